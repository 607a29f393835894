import { Uint8ArrayList } from 'uint8arraylist'
import { Frame } from '../wire/migrate.js'
import { MAX_JOB_FILES, MIGRATE_MAX_FRAME_BYTES } from '../constants.js'
import type { Stream } from '@libp2p/interface'

/** A frame to send: only `type` is required; `data` may be any byte view (a Buffer from a pipe). */
export type FrameInput = Omit<Partial<Frame>, 'data'> & Pick<Frame, 'type'> & { data?: Uint8Array }

/** Above this much unread data the stream is paused (yamux stops granting window); below LOW it resumes. */
const HIGH_WATER = 4 * 1024 * 1024
const LOW_WATER = 1024 * 1024
/** A paused yamux stream still receives up to its window (16 MiB): room for that. */
const STREAM_READ_BUFFER = 32 * 1024 * 1024

export class EndOfStreamError extends Error {
  override name = 'EndOfStreamError'
}

/**
 * A job's frames over one libp2p stream, both directions at once, as
 * varint-length-prefixed protobuf. Reading applies backpressure: a consumer
 * that falls behind pauses the stream, so a fast producer on the other side
 * waits instead of filling memory. Writes are queued in order and wait for
 * the stream to drain when its buffer is full.
 */
export class FrameChannel {
  private readonly buffer = new Uint8ArrayList()
  private ended = false
  private failure?: Error
  private wake?: () => void
  private writing: Promise<void> = Promise.resolve()

  constructor (readonly stream: Stream) {
    stream.maxReadBufferLength = STREAM_READ_BUFFER
    stream.addEventListener('message', (evt) => {
      this.buffer.append(evt.data)
      // deferred: pausing inside the dispatch that resume() triggers would be undone by
      // resume()'s own window update that follows it, and the sender would not stop
      if (this.buffer.byteLength > HIGH_WATER) queueMicrotask(() => { this.maybePause() })
      this.wake?.()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.ended = true; this.wake?.() })
    stream.addEventListener('close', (evt) => {
      this.ended = true
      if (evt.error != null) this.failure = evt.error
      this.wake?.()
    })
  }

  private maybePause (): void {
    if (this.buffer.byteLength > HIGH_WATER && this.stream.readStatus === 'readable') this.stream.pause()
  }

  async read (signal?: AbortSignal): Promise<Frame> {
    for (;;) {
      const frame = this.decode()
      if (frame != null) {
        if (this.buffer.byteLength < LOW_WATER && this.stream.readStatus === 'paused') this.stream.resume()
        return frame
      }
      if (this.failure != null) throw this.failure
      if (this.ended) throw new EndOfStreamError('stream ended')
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(signal?.reason) }
        this.wake = () => {
          this.wake = undefined
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /** One whole frame from the buffer, or undefined if it has not all arrived. */
  private decode (): Frame | undefined {
    let length = 0
    let shift = 0
    let offset = 0
    for (;;) {
      if (offset >= this.buffer.byteLength) return undefined
      const byte = this.buffer.get(offset++)
      length += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) break
      shift += 7
      if (shift > 28) throw new Error('frame length prefix too long')
    }
    if (length > MIGRATE_MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes is over the ${MIGRATE_MAX_FRAME_BYTES} limit`)
    if (this.buffer.byteLength < offset + length) return undefined
    const body = this.buffer.sublist(offset, offset + length)
    this.buffer.consume(offset + length)
    return Frame.decode(body, { limits: { job: { argv: 4096, env: 256, inputs: MAX_JOB_FILES, outputs: 1000 } } })
  }

  /** Queue a frame; resolves once it is handed to the stream (after a drain if needed). */
  async write (frame: FrameInput, signal?: AbortSignal): Promise<void> {
    const body = Frame.encode(frame as unknown as Frame)
    const next = this.writing.then(async () => {
      if (!this.stream.send(new Uint8ArrayList(varint(body.byteLength), body))) await this.stream.onDrain({ signal })
    })
    this.writing = next.catch(() => {})
    await next
  }

  async close (signal?: AbortSignal): Promise<void> {
    await this.writing
    await this.stream.close({ signal })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}
