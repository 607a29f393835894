import { openSync, fstatSync, closeSync, constants } from 'node:fs'
import { Socket } from 'node:net'

/** How the `run` client names a pipe it holds: its pid, and the pipe's device and inode. */
export interface ClientPipes {
  pid: number
  /** by file descriptor (1 stdout, 2 stderr): `${dev}:${ino}` of a pipe */
  pipes: Record<string, string>
}

/** `${dev}:${ino}` of a file descriptor that is a pipe, else undefined (what the client reports). */
export function pipeIdentity (fd: number): string | undefined {
  try {
    const st = fstatSync(fd, { bigint: true })
    return st.isFIFO() ? `${st.dev}:${st.ino}` : undefined
  } catch {
    return undefined
  }
}

export function parseClientPipes (v: unknown): ClientPipes | undefined {
  if (v == null || typeof v !== 'object') return undefined
  const { pid, pipes } = v as Record<string, unknown>
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || pipes == null || typeof pipes !== 'object') return undefined
  const out: Record<string, string> = {}
  for (const [fd, id] of Object.entries(pipes as Record<string, unknown>)) {
    if ((fd === '1' || fd === '2') && typeof id === 'string' && /^\d+:\d+$/.test(id)) out[fd] = id
  }
  return { pid, pipes: out }
}

/**
 * The run client's stdout or stderr, when it is a pipe, opened by the daemon
 * itself through /proc/<pid>/fd/<n>: the job's output then goes straight
 * into the pipe instead of through the client (as an ssh ControlMaster
 * writes into its client's descriptors). Only pipes: a file's offset and a
 * terminal's settings stay the client's. The control socket is its owner's
 * alone, and the kernel lets us open the descriptor only if we could trace
 * the client; the device and inode must match what the client reported.
 * Undefined whenever that does not work out: output then goes through the client.
 */
export function openClientPipe (client: ClientPipes, fd: 1 | 2): Socket | undefined {
  const expected = client.pipes[String(fd)]
  if (expected == null) return undefined
  let handle: number
  try {
    handle = openSync(`/proc/${client.pid}/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  if (pipeIdentity(handle) !== expected) {
    closeSync(handle)
    return undefined
  }
  return new Socket({ fd: handle, readable: false, writable: true })
}
