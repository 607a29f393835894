import { asError } from '../errors.js'
import { RecordOpener, RecordSealer } from './records.js'
import type { Socket } from 'node:net'
import type { BulkConnection } from './index.js'

/** Sealed output queued in the socket before a sender is asked to wait (keeps records in flight). */
const WRITE_QUEUE_BYTES = 4 * 1024 * 1024

/**
 * A TCP socket carrying sealed records both ways. Incoming bytes arrive by
 * `receive` (from the socket's 'data' events, or from an `onread` buffer the
 * creator set up); each verified record goes to `onRecord`.
 */
export class RecordConnection implements BulkConnection {
  private handler?: (plaintext: Buffer[]) => void
  /** records that came before anyone took them (between the proof and the channel's attach) */
  private backlog: Buffer[][] = []
  private readonly endListeners = new Set<() => void>()
  private readonly closeListeners = new Set<(err?: Error) => void>()
  private error?: Error
  private closed = false
  private ended = false

  constructor (readonly socket: Socket, private readonly sealer: RecordSealer, private readonly opener: RecordOpener, readEvents: boolean) {
    if (readEvents) socket.on('data', (chunk: Buffer) => { this.receive(chunk) })
    socket.on('error', (err) => { this.error ??= err })
    socket.on('end', () => {
      // only the peer's sealed end record makes an end clean: a FIN alone proves nothing
      if (!this.opener.complete) {
        this.destroy(new Error(this.opener.midRecord ? 'bulk connection cut short in the middle of a record' : 'bulk connection cut short: it ended without its end record'))
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

  receive (data: Uint8Array): void {
    if (this.socket.destroyed) return
    try {
      this.opener.push(data, (record) => {
        if (this.handler != null) this.handler(record)
        else this.backlog.push(record)
      })
    } catch (err) {
      this.destroy(asError(err))
    }
  }

  onRecords (handler: ((plaintext: Buffer[]) => void) | undefined): void {
    this.handler = handler
    while (this.handler === handler && handler != null && this.backlog.length > 0) handler(this.backlog.shift() as Buffer[])
  }

  send (pieces: readonly Uint8Array[]): boolean {
    const out = this.sealer.seal(pieces)
    this.socket.cork()
    for (const b of out) this.socket.write(b)
    this.socket.uncork()
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

  /** Our sealed end record, then a FIN for our direction. */
  async end (): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return
    await new Promise<void>((resolve) => {
      this.socket.cork()
      for (const b of this.sealer.sealEnd()) this.socket.write(b)
      this.socket.uncork()
      this.socket.end(() => { resolve() })
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

export function newRecordConnection (socket: Socket, sendKey: Buffer, receiveKey: Buffer, maxRecordBytes: number, readEvents: boolean): RecordConnection {
  return new RecordConnection(socket, new RecordSealer(sendKey, maxRecordBytes), new RecordOpener(receiveKey, maxRecordBytes), readEvents)
}
