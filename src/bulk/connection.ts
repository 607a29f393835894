import { RecordReader, encodeEnd, encodeRecord } from './framing.js'
import type { TLSSocket } from 'node:tls'
import type { BulkConnection } from './index.js'

/** Output queued in the socket before a sender is asked to wait (keeps records in flight). */
const WRITE_QUEUE_BYTES = 4 * 1024 * 1024

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

  constructor (readonly socket: TLSSocket, private readonly maxRecordBytes: number) {
    this.reader = new RecordReader(maxRecordBytes)
    socket.on('data', (chunk: Buffer) => { this.receive(chunk) })
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

  private receive (data: Buffer): void {
    if (this.socket.destroyed) return
    try {
      this.reader.push(data, (record) => {
        if (this.handler != null) this.handler(record)
        else this.backlog.push(record)
      })
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)))
    }
  }

  onRecords (handler: ((plaintext: Buffer[]) => void) | undefined): void {
    this.handler = handler
    while (this.handler === handler && handler != null && this.backlog.length > 0) handler(this.backlog.shift() as Buffer[])
  }

  send (pieces: readonly Uint8Array[]): boolean {
    // one fresh buffer (the caller may reuse its pieces at once), one write: TLS fills whole records
    this.socket.write(encodeRecord(pieces, this.maxRecordBytes))
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
