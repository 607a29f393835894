/**
 * The job spawner's helper process (spawner.ts says why it exists). Node's
 * own modules only: it stays small, since every job's fork copies it.
 *
 * From the daemon, over the IPC channel: `fd` messages carrying a job's
 * three stdio sockets, then `spawn`. Back: `spawned` (with the pid, or null),
 * `error` and `exit`, as a ChildProcess would emit them.
 */
import { spawn } from 'node:child_process'
import type { Socket } from 'node:net'

/** daemon → helper */
export type ToHelper = { t: 'fd', id: number, n: 0 | 1 | 2 } | { t: 'spawn', id: number, command: string, args: string[], cwd: string, env: Record<string, string>, umask: number }
/** helper → daemon */
export type FromHelper = { t: 'spawned', id: number, pid: number | null } | { t: 'error', id: number, message: string } | { t: 'exit', id: number, code: number | null, signal: NodeJS.Signals | null }

const stdio = new Map<number, Socket[]>()
const send = (m: FromHelper): void => { process.send?.(m) }

process.on('message', (m: ToHelper, handle?: Socket) => {
  if (m.t === 'fd') {
    if (handle == null) return
    handle.pause()
    const fds = stdio.get(m.id) ?? []
    fds[m.n] = handle
    stdio.set(m.id, fds)
    return
  }
  if (m.t !== 'spawn') return
  const fds = stdio.get(m.id) ?? []
  stdio.delete(m.id)
  const umask = process.umask(m.umask)
  try {
    const child = spawn(m.command, m.args, { cwd: m.cwd, env: m.env, detached: true, stdio: [fds[0] ?? 'ignore', fds[1] ?? 'ignore', fds[2] ?? 'ignore'] })
    child.once('error', (err) => { send({ t: 'error', id: m.id, message: err.message }) })
    child.once('exit', (code, signal) => { send({ t: 'exit', id: m.id, code, signal }) })
    send({ t: 'spawned', id: m.id, pid: child.pid ?? null })
  } catch (err) {
    send({ t: 'error', id: m.id, message: (err as Error).message })
  } finally {
    process.umask(umask)
    // the child holds its own copies; ours would keep its output open after it exits
    for (const s of fds) s?.destroy()
  }
})

// the daemon gone: nothing more to start (a job's sandbox dies with its parent, this process)
process.on('disconnect', () => { process.exit(0) })
