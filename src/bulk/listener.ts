import { createServer, type OnReadOpts, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, TLSSocket, type ConnectionOptions } from 'node:tls'
import { randomBytes } from 'node:crypto'
import { TlsRecordConnection } from './connection.js'
import { clientTlsOptions, serverTlsOptions } from './tls.js'
import { BULK_HELLO_TIMEOUT_MS, BULK_MAX_RECORD_BYTES, BULK_MAX_UNPROVEN, BULK_OFFER_TTL_MS, BULK_READ_BUFFER_BYTES } from '../constants.js'
import type { BulkConnection, BulkListener, BulkListenerInit, BulkOfferData, BulkOfferHandle } from './index.js'

export const BULK_ID_BYTES = 16
export const BULK_SECRET_BYTES = 32

interface PendingOffer {
  secret: Buffer
  resolve: (conn: BulkConnection) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class TcpBulkListener implements BulkListener {
  private readonly offers = new Map<string, PendingOffer>()
  private unproven = 0
  private dropped = 0
  private lastDropLog = 0

  private constructor (private readonly server: Server, private readonly log: (line: string) => void, private readonly helloTimeoutMs: number) {}

  static async listen (init: BulkListenerInit): Promise<TcpBulkListener> {
    const server = createServer({ allowHalfOpen: true, noDelay: true })
    const listener = new TcpBulkListener(server, init.log ?? (() => {}), init.helloTimeoutMs ?? BULK_HELLO_TIMEOUT_MS)
    server.on('connection', (socket) => { listener.accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(init.port ?? 0, init.host, () => { server.off('error', reject); resolve() })
    })
    // a failure after start-up (it should not happen) is logged, never thrown
    server.on('error', (err) => { listener.log(`bulk port: ${err.message}`) })
    return listener
  }

  get port (): number {
    const address = this.server.address()
    return typeof address === 'object' && address != null ? address.port : 0
  }

  offer (): BulkOfferHandle {
    const id = randomBytes(BULK_ID_BYTES)
    const secret = randomBytes(BULK_SECRET_BYTES)
    const key = id.toString('hex')
    let resolve!: (conn: BulkConnection) => void
    let reject!: (err: Error) => void
    const promise = new Promise<BulkConnection>((res, rej) => { resolve = res; reject = rej })
    // the channel always handles the outcome; this keeps an unwatched one quiet
    promise.catch(() => {})
    const timer = setTimeout(() => {
      if (this.offers.delete(key)) reject(new Error('bulk offer expired'))
    }, BULK_OFFER_TTL_MS)
    timer.unref()
    this.offers.set(key, { secret, resolve, reject, timer })
    return {
      offer: { port: this.port, id, secret },
      connection: promise,
      cancel: () => {
        const pending = this.offers.get(key)
        if (pending == null) return
        this.offers.delete(key)
        clearTimeout(pending.timer)
        reject(new Error('bulk offer withdrawn'))
      }
    }
  }

  /**
   * A connection must finish a TLS handshake with the key of a live offer,
   * named by its PSK identity, within the deadline counted from accept
   * (whatever it trickles meanwhile); anything else is dropped.
   */
  private accept (socket: Socket): void {
    socket.on('error', () => {})
    if (this.unproven >= BULK_MAX_UNPROVEN) {
      socket.destroy()
      return
    }
    this.unproven++
    let counted = true
    const proven = (): void => {
      if (!counted) return
      counted = false
      this.unproven--
    }
    const deadline = setTimeout(() => { tls.destroy() }, this.helloTimeoutMs)
    deadline.unref()
    /** the offer this connection named: one try each, a failed handshake spends it */
    let claimed: PendingOffer | undefined
    const tls = new TLSSocket(socket, serverTlsOptions((identity) => {
      const pending = this.offers.get(identity)
      if (pending == null || claimed != null) {
        this.dropUnknown(socket.remoteAddress)
        return null
      }
      this.offers.delete(identity)
      clearTimeout(pending.timer)
      claimed = pending
      return pending.secret
    }))
    tls.on('error', () => {})
    tls.once('close', () => {
      clearTimeout(deadline)
      proven()
      claimed?.reject(new Error('bulk connection failed before its handshake finished'))
    })
    tls.once('secure', () => {
      const pending = claimed
      claimed = undefined
      if (pending == null) {
        tls.destroy()
        return
      }
      clearTimeout(deadline)
      proven()
      const conn = new TlsRecordConnection(tls, BULK_MAX_RECORD_BYTES)
      // an empty first record: the origin's sign that this end took the connection
      conn.send([])
      pending.resolve(conn)
    })
  }

  /** One log line per 10 s at most: a port scan must not flood the log. */
  private dropUnknown (from: string | undefined): void {
    this.dropped++
    const now = Date.now()
    if (now - this.lastDropLog < 10_000) return
    this.log(`bulk port: dropped ${this.dropped === 1 ? 'a connection' : `${this.dropped} connections`} that named no offer (last from ${from ?? '?'})`)
    this.dropped = 0
    this.lastDropLog = now
  }

  async close (): Promise<void> {
    for (const [key, pending] of this.offers) {
      this.offers.delete(key)
      clearTimeout(pending.timer)
      pending.reject(new Error('bulk port closed'))
    }
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }) })
  }
}

/** The origin's side: a TLS 1.3 handshake keyed by the offer, then the target's empty first record. */
export async function connectBulk (host: string, offer: BulkOfferData, signal: AbortSignal): Promise<BulkConnection> {
  if (offer.id.byteLength !== BULK_ID_BYTES || offer.secret.byteLength !== BULK_SECRET_BYTES || offer.port <= 0 || offer.port > 65535) {
    throw new Error('malformed bulk offer')
  }
  signal.throwIfAborted()
  let connection: TlsRecordConnection | undefined
  // allowHalfOpen and onread reach the TLS socket (as in net.connect); @types/node does not list them
  const options: ConnectionOptions & { allowHalfOpen: boolean, onread: OnReadOpts } = {
    host,
    port: offer.port,
    // each direction ends on its own
    allowHalfOpen: true,
    // every read lands in one reused buffer: on the fast direction (the job's output) this
    // doubles what TLS delivers, against a buffer and a stream event per 16 KiB record
    onread: { buffer: Buffer.allocUnsafe(BULK_READ_BUFFER_BYTES), callback: (n, buf) => { connection?.receiveReused((buf as Buffer).subarray(0, n)); return true } },
    ...clientTlsOptions(Buffer.from(offer.id).toString('hex'), offer.secret)
  }
  const socket = tlsConnect(options)
  socket.setNoDelay(true)
  socket.on('error', () => {})
  connection = new TlsRecordConnection(socket, BULK_MAX_RECORD_BYTES, false)
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      const offClose = connection.onClose((err) => { reject(err ?? new Error('the bulk port closed the connection')) })
      // half-open sockets: the port ending the connection before its first record is a refusal
      const offEnd = connection.onEnd(() => { reject(new Error('the bulk port closed the connection')) })
      connection.onRecords((record) => {
        signal.removeEventListener('abort', onAbort)
        offClose()
        offEnd()
        if (record.some(piece => piece.byteLength > 0)) {
          reject(new Error('the bulk port did not start with an empty record'))
          return
        }
        // what follows waits for the channel
        connection.onRecords(undefined)
        resolve()
      })
    })
  } catch (err) {
    connection.destroy()
    throw err
  }
  return connection
}
