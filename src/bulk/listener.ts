import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { deriveBulkKeys } from './records.js'
import { newRecordConnection, type RecordConnection } from './connection.js'
import {
  BULK_HELLO_TIMEOUT_MS, BULK_MAX_RECORD_BYTES, BULK_MAX_UNPROVEN, BULK_OFFER_TTL_MS, BULK_READ_BUFFER_BYTES
} from '../constants.js'
import type { BulkConnection, BulkListener, BulkListenerInit, BulkOfferData, BulkOfferHandle } from './index.js'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('bulk')

export const BULK_ID_BYTES = 16
export const BULK_SECRET_BYTES = 32
/** The first record each way: proves the sender derived the same keys from the offer. */
const HELLO = Buffer.from('kappa-bulk/1 hello')

interface PendingOffer {
  keys: ReturnType<typeof deriveBulkKeys>
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
    promise.catch(logged(debug, 'an offer nobody waited for'))
    const timer = setTimeout(() => {
      if (this.offers.delete(key)) reject(new Error('bulk offer expired'))
    }, BULK_OFFER_TTL_MS)
    timer.unref()
    this.offers.set(key, { keys: deriveBulkKeys(secret, id), resolve, reject, timer })
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

  /** A connection must name a live offer and prove its key, quickly; anything else is dropped. */
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
    // a deadline from accept, not an idle timeout: a byte every few seconds must not keep a slot
    const deadline = setTimeout(() => { socket.destroy() }, this.helloTimeoutMs)
    deadline.unref()
    socket.once('close', () => { clearTimeout(deadline); proven() })
    let head: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      if (head.length < BULK_ID_BYTES) return
      socket.off('data', onData)
      socket.pause()
      const key = head.subarray(0, BULK_ID_BYTES).toString('hex')
      const pending = this.offers.get(key)
      if (pending == null) {
        this.dropUnknown(socket.remoteAddress)
        socket.destroy()
        return
      }
      // one try per offer: a connection that fails the proof spends it, the job stays on its stream
      this.offers.delete(key)
      clearTimeout(pending.timer)
      const conn = newRecordConnection(socket, pending.keys.targetToOrigin, pending.keys.originToTarget, BULK_MAX_RECORD_BYTES, true)
      const offClose = conn.onClose((err) => { pending.reject(err ?? new Error('bulk connection closed before it was proved')) })
      // half-open sockets: an end before the proof is a failure, not a pause
      const offEnd = conn.onEnd(() => { conn.destroy() })
      conn.onRecords((record) => {
        if (!Buffer.concat(record).equals(HELLO)) {
          conn.destroy(new Error('bulk connection did not prove its offer'))
          return
        }
        // what follows waits for the channel
        conn.onRecords(undefined)
        offClose()
        offEnd()
        proven()
        clearTimeout(deadline)
        conn.send([HELLO])
        pending.resolve(conn)
      })
      conn.receive(head.subarray(BULK_ID_BYTES))
      socket.resume()
    }
    socket.on('data', onData)
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

/** The origin's side: connect to an offer, prove the key, wait for the target's proof. */
export async function connectBulk (host: string, offer: BulkOfferData, signal: AbortSignal): Promise<BulkConnection> {
  if (offer.id.byteLength !== BULK_ID_BYTES || offer.secret.byteLength !== BULK_SECRET_BYTES || offer.port <= 0 || offer.port > 65535) {
    throw new Error('malformed bulk offer')
  }
  signal.throwIfAborted()
  const keys = deriveBulkKeys(offer.secret, offer.id)
  let conn: RecordConnection | undefined
  const socket = tcpConnect({
    host,
    port: offer.port,
    allowHalfOpen: true,
    noDelay: true,
    // every read lands in one reused buffer: no allocation per read on the fast direction
    onread: { buffer: Buffer.allocUnsafe(BULK_READ_BUFFER_BYTES), callback: (n, buf) => { conn?.receive(buf.subarray(0, n)); return true } }
  })
  conn = newRecordConnection(socket, keys.originToTarget, keys.targetToOrigin, BULK_MAX_RECORD_BYTES, false)
  const connection = conn
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { connection.destroy(); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      const offClose = connection.onClose((err) => { reject(err ?? new Error('bulk connection closed')) })
      // half-open sockets: the port ending the connection before its proof is a refusal
      const offEnd = connection.onEnd(() => { connection.destroy(new Error('the bulk port closed the connection')) })
      socket.once('connect', () => {
        socket.write(offer.id)
        connection.send([HELLO])
      })
      connection.onRecords((record) => {
        signal.removeEventListener('abort', onAbort)
        offClose()
        offEnd()
        if (!Buffer.concat(record).equals(HELLO)) {
          connection.destroy()
          reject(new Error('the bulk port did not prove the offer'))
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
