import { createServer, connect, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MIGRATE_CHUNK_BYTES } from '../constants.js'

/** Each read of the job's output lands here; smaller than a batch, so one read never fills two. */
const READ_BUFFER_BYTES = 64 * 1024
/** Linux's limit on a unix socket path is 108 bytes, with its terminator. */
const MAX_SOCKET_PATH = 100

/**
 * A job's stdout or stderr: a connected pair of unix sockets, the child's end
 * handed to it as its descriptor, ours read into one reused buffer and
 * batched into two reused batch buffers. Output then costs a copy, not an
 * allocation per read (the garbage collector was a third of a target's CPU
 * at full speed).
 */
export class JobOutput {
  private batches?: [Buffer, Buffer]
  private current = 0
  private fill = 0
  private flushing: Promise<void> = Promise.resolve()
  private pending = 0
  private scheduled = false
  private failed = false
  private send: (data: Uint8Array) => Promise<void> = async () => {}
  private done?: () => void

  private constructor (readonly childEnd: Socket, private readonly ours: Socket) {}

  /** A socket pair made through a listening socket `name` in `dir` (0700), gone from the file system at once. */
  static async open (dir: string, name: string): Promise<JobOutput> {
    let output: JobOutput | undefined
    const { ours, theirs } = await socketPair(dir, name, { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (n, buf) => { output?.take(buf as Buffer, n); return true } })
    output = new JobOutput(theirs, ours)
    return output
  }

  /** After spawn: the child holds its own copy of its end. */
  releaseChildEnd (): void {
    this.childEnd.destroy()
  }

  /**
   * Sends the output as it comes, in batches of up to MIGRATE_CHUNK_BYTES; a
   * partial batch goes at the end of the event-loop turn, so interactive
   * output is not held back. `send` may keep the buffer only until it
   * resolves; meanwhile reading pauses (the transport's backpressure holds
   * the job). Resolves once the job's end of the socket is closed and all
   * was sent.
   */
  async pump (send: (data: Uint8Array) => Promise<void>): Promise<void> {
    this.send = send
    await new Promise<void>((resolve) => {
      let settled = false
      this.done = () => {
        if (settled) return
        settled = true
        this.flush()
        void this.flushing.then(resolve)
      }
      this.ours.on('end', () => { this.done?.() })
      this.ours.on('close', () => { this.done?.() })
      this.ours.on('error', () => {})
      this.ours.resume()
    })
  }

  /** No more reading: the job's writes fail from now on. */
  destroy (): void {
    this.ours.destroy()
  }

  private take (buf: Buffer, n: number): void {
    if (this.failed) return
    this.batches ??= [Buffer.allocUnsafe(MIGRATE_CHUNK_BYTES), Buffer.allocUnsafe(MIGRATE_CHUNK_BYTES)]
    let offset = 0
    while (offset < n) {
      const batch = this.batches[this.current]
      const k = Math.min(batch.length - this.fill, n - offset)
      buf.copy(batch, this.fill, offset, offset + k)
      this.fill += k
      offset += k
      if (this.fill === batch.length) this.flush()
    }
    if (this.fill > 0 && !this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.flush() })
    }
  }

  /**
   * The batch being filled goes out; the other one becomes current. Reading
   * pauses until every send has resolved, so a batch is never refilled while
   * a send holds it (one read, smaller than a batch, spills into the other at most).
   */
  private flush (): void {
    this.scheduled = false
    if (this.fill === 0 || this.failed || this.batches == null) return
    const data = this.batches[this.current].subarray(0, this.fill)
    this.current ^= 1
    this.fill = 0
    this.ours.pause()
    this.pending++
    this.flushing = this.flushing
      .then(async () => { await this.send(data) })
      .then(() => {
        if (--this.pending === 0 && !this.ours.destroyed) this.ours.resume()
      }, () => { this.pending--; this.failed = true; this.ours.destroy() })
  }
}

/**
 * A connected pair of unix sockets made through a listening socket `name`
 * in `dir` (0700), gone from the file system at once: `theirs` is the job's
 * descriptor, `ours` the daemon's end (read into `onread`'s buffer, if given).
 * A job's stdin is one (as a spawn's 'pipe' is: libuv makes socket pairs).
 */
export async function socketPair (dir: string, name: string, onread?: { buffer: Buffer, callback: (n: number, buf: Uint8Array) => boolean }): Promise<{ ours: Socket, theirs: Socket }> {
  let scratch: string | undefined
  let path = join(dir, name)
  if (path.length > MAX_SOCKET_PATH) {
    scratch = await mkdtemp(join(tmpdir(), 'kappa-'))
    path = join(scratch, name)
  }
  const server = createServer({ allowHalfOpen: true })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { resolve() })
    })
    const accepted = new Promise<Socket>((resolve) => { server.once('connection', resolve) })
    const ours = connect({ path, ...onread != null ? { onread } : {} })
    // nothing is read before the daemon asks (the pump resumes it)
    ours.pause()
    await new Promise<void>((resolve, reject) => {
      ours.once('connect', () => { resolve() })
      ours.once('error', reject)
    })
    return { ours, theirs: await accepted }
  } finally {
    server.close()
    if (scratch != null) rmSync(scratch, { recursive: true, force: true })
    else rmSync(path, { force: true })
  }
}
