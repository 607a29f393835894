import { RECORD_HEADER_BYTES, RecordReader, encodeEnd, payloadLength, writeRecord } from './framing.js'
import { MIGRATE_CHUNK_BYTES } from '../constants.js'
import type { TLSSocket } from 'node:tls'
import type { BulkConnection } from './index.js'

/** Output queued in the socket before a sender is asked to wait (keeps records in flight). */
const WRITE_QUEUE_BYTES = 4 * 1024 * 1024
/**
 * Records are copied into send buffers that are used again once TLS has
 * taken them (a fresh 256 KiB buffer per frame cost the sender half again
 * its CPU, in allocation and collection): room for a data frame of
 * MIGRATE_CHUNK_BYTES and its few bytes of framing, as many as the write
 * queue holds and a few more.
 */
const SEND_BUFFER_BYTES = MIGRATE_CHUNK_BYTES + 1024
const MAX_SPARE_SEND_BUFFERS = Math.ceil(WRITE_QUEUE_BYTES / SEND_BUFFER_BYTES) + 4
/** Below this a record takes a fresh small buffer (Node's slab), not a send buffer. */
const SMALL_RECORD_BYTES = 16 * 1024

/**
 * Records both ways over an established TLS 1.3 session. Each record is one
 * frame (framing.ts); it goes to the handler in the pieces TLS decrypted it
 * in. The end of the stream counts only when the peer's end record came.
 */
export class TlsRecordConnection implements BulkConnection {
  private handler?: (plaintext: Buffer[]) => void
  /** records that came before anyone took them (between the handshake and the channel's attach) */
  private backlog: Buffer[][] = []
  private readonly reader: RecordReader
  private readonly endListeners = new Set<() => void>()
  private readonly closeListeners = new Set<(err?: Error) => void>()
  private error?: Error
  private closed = false
  private ended = false
  private readonly spare: Buffer[] = []

  /**
   * `readEvents`: read the socket's 'data' events (fresh chunks); false when
   * its creator set up an `onread` buffer and calls `receiveReused` instead
   * (twice as fast: no buffer per 16 KiB TLS record, no stream machinery).
   */
  constructor (readonly socket: TLSSocket, private readonly maxRecordBytes: number, readEvents = true) {
    this.reader = new RecordReader(maxRecordBytes)
    if (readEvents) socket.on('data', (chunk: Buffer) => { this.receive(chunk, false) })
    socket.on('error', (err) => { this.error ??= err })
    socket.on('end', () => {
      if (!this.reader.complete) {
        this.destroy(new Error('bulk connection cut short: it ended without its end record'))
        return
      }
      this.ended = true
      for (const l of this.endListeners) l()
    })
    socket.on('close', () => {
      this.closed = true
      for (const l of this.closeListeners) l(this.error)
      this.closeListeners.clear()
    })
  }

  /** Bytes from an `onread` buffer, reused once this returns. */
  receiveReused (data: Buffer): void {
    this.receive(data, true)
  }

  private receive (data: Buffer, reused: boolean): void {
    if (this.socket.destroyed) return
    const deliver = (record: Buffer[]): void => {
      if (this.handler != null) this.handler(record)
      else this.backlog.push(record)
    }
    try {
      if (reused) this.reader.pushReused(data, deliver)
      else this.reader.push(data, deliver)
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)))
    }
  }

  onRecords (handler: ((plaintext: Buffer[]) => void) | undefined): void {
    this.handler = handler
    while (this.handler === handler && handler != null && this.backlog.length > 0) handler(this.backlog.shift() as Buffer[])
  }

  /** Copies the pieces (the caller may reuse them at once) into one buffer, one write: TLS fills whole records. */
  send (pieces: readonly Uint8Array[]): boolean {
    const size = RECORD_HEADER_BYTES + payloadLength(pieces, this.maxRecordBytes)
    if (size < SMALL_RECORD_BYTES || size > SEND_BUFFER_BYTES) {
      const out = Buffer.allocUnsafe(size)
      writeRecord(out, pieces)
      this.socket.write(out)
    } else {
      const out = this.spare.pop() ?? Buffer.allocUnsafe(SEND_BUFFER_BYTES)
      const n = writeRecord(out, pieces)
      // TLS has encrypted it when the write calls back: the buffer can take the next record
      this.socket.write(out.subarray(0, n), () => { if (this.spare.length < MAX_SPARE_SEND_BUFFERS) this.spare.push(out) })
    }
    return this.socket.writableLength <= WRITE_QUEUE_BYTES
  }

  async drained (signal?: AbortSignal): Promise<void> {
    if (this.socket.writableLength <= WRITE_QUEUE_BYTES) return
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const finish = (abortReason?: unknown): void => {
        this.socket.off('drain', onDrain)
        this.closeListeners.delete(onClose)
        signal?.removeEventListener('abort', onAbort)
        if (abortReason !== undefined) reject(abortReason)
        else if (this.socket.destroyed) reject(this.error ?? new Error('bulk connection closed'))
        else resolve()
      }
      const onDrain = (): void => { finish() }
      const onClose = (): void => { finish() }
      const onAbort = (): void => { finish(signal?.reason ?? new Error('aborted')) }
      this.socket.on('drain', onDrain)
      this.closeListeners.add(onClose)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  pause (): void { this.socket.pause() }
  resume (): void { this.socket.resume() }

  /** The end record, then TLS's close_notify and a FIN for our direction. */
  async end (): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return
    await new Promise<void>((resolve) => {
      this.socket.end(encodeEnd(), () => { resolve() })
      this.onClose(() => { resolve() })
    })
  }

  destroy (err?: Error): void {
    if (err != null) this.error ??= err
    this.socket.destroy()
  }

  onEnd (listener: () => void): () => void {
    if (this.ended) {
      listener()
      return () => {}
    }
    this.endListeners.add(listener)
    return () => { this.endListeners.delete(listener) }
  }

  onClose (listener: (err?: Error) => void): () => void {
    if (this.closed) {
      listener(this.error)
      return () => {}
    }
    this.closeListeners.add(listener)
    return () => { this.closeListeners.delete(listener) }
  }
}
