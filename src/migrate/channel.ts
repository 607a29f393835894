import { lpStream } from '@libp2p/utils'
import { Frame } from '../wire/migrate.js'
import { MAX_JOB_FILES, MIGRATE_MAX_FRAME_BYTES } from '../constants.js'
import type { Stream } from '@libp2p/interface'

/**
 * A job's frames over one libp2p stream, both directions at once. Reads pull
 * (so a slow consumer slows the sender through yamux's window); writes are
 * queued in order and wait for the stream to drain when its buffer is full.
 */
export class FrameChannel {
  private readonly reader
  private writing: Promise<void> = Promise.resolve()

  constructor (readonly stream: Stream) {
    this.reader = lpStream(stream, { maxDataLength: MIGRATE_MAX_FRAME_BYTES })
  }

  async read (signal?: AbortSignal): Promise<Frame> {
    const bytes = await this.reader.read({ signal })
    return Frame.decode(bytes, { limits: { job: { argv: 4096, env: 256, inputs: MAX_JOB_FILES, outputs: 1000 } } })
  }

  /** Queue a frame; resolves once it is handed to the stream (after a drain if needed). */
  async write (frame: Partial<Frame> & Pick<Frame, 'type'>, signal?: AbortSignal): Promise<void> {
    const bytes = Frame.encode(frame as Frame)
    const next = this.writing.then(async () => {
      await this.reader.write(bytes, { signal })
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
