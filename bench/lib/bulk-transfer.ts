/**
 * One bulk transfer between two processes on 127.0.0.1, for bench/bulk:
 * `node bulk-transfer.js serve IMPL BYTES` prints its offer as one JSON line
 * and sends BYTES in 256 KiB frames to the first connection;
 * `node bulk-transfer.js fetch IMPL OFFER` receives them and prints MB/s.
 * Each side then prints the CPU seconds it used (a cost the machine's other
 * load does not change much, unlike MB/s).
 *
 * IMPL `tls` is src/bulk as the daemons use it (TLS 1.3 PSK, framed
 * records, an end record); `records` is the hand-made AES-256-GCM record
 * layer it replaced (bench/lib/aes-records.ts), with the same framing of
 * work: the target seals each frame as it sends it, the origin reads into
 * one reused buffer and opens records from it.
 */
import { createServer, connect as tcpConnect } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createBulkListener, connectBulk } from '../../src/bulk/index.js'
import { RecordOpener, RecordSealer, deriveBulkKeys } from './aes-records.js'
import { BULK_MAX_RECORD_BYTES, MIGRATE_CHUNK_BYTES } from '../../src/constants.js'

const WRITE_QUEUE_BYTES = 4 * 1024 * 1024

interface Offer { port: number, id: string, secret: string }

async function serve (impl: string, bytes: number): Promise<void> {
  const frame = randomBytes(MIGRATE_CHUNK_BYTES)
  const frames = Math.ceil(bytes / frame.length)
  if (impl === 'tls') {
    const listener = await createBulkListener({ host: '127.0.0.1' })
    const handle = listener.offer()
    const offer: Offer = { port: handle.offer.port, id: Buffer.from(handle.offer.id).toString('hex'), secret: Buffer.from(handle.offer.secret).toString('hex') }
    process.stdout.write(JSON.stringify(offer) + '\n')
    const conn = await handle.connection
    for (let i = 0; i < frames; i++) if (!conn.send([frame])) await conn.drained()
    await conn.end()
    await listener.close()
    return
  }
  const id = randomBytes(16)
  const secret = randomBytes(32)
  const keys = deriveBulkKeys(secret, id)
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    void (async () => {
      const sealer = new RecordSealer(keys.targetToOrigin, BULK_MAX_RECORD_BYTES)
      for (let i = 0; i < frames; i++) {
        socket.cork()
        for (const b of sealer.seal([frame])) socket.write(b)
        socket.uncork()
        if (socket.writableLength > WRITE_QUEUE_BYTES) await new Promise(resolve => socket.once('drain', resolve))
      }
      socket.end(() => { server.close() })
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const offer: Offer = { port: typeof address === 'object' && address != null ? address.port : 0, id: id.toString('hex'), secret: secret.toString('hex') }
  process.stdout.write(JSON.stringify(offer) + '\n')
}

async function fetch (impl: string, offer: Offer): Promise<number> {
  const start = process.hrtime.bigint()
  let received = 0
  if (impl === 'tls') {
    const conn = await connectBulk('127.0.0.1', { port: offer.port, id: Buffer.from(offer.id, 'hex'), secret: Buffer.from(offer.secret, 'hex') }, AbortSignal.timeout(10_000))
    await new Promise<void>((resolve, reject) => {
      conn.onRecords((pieces) => { for (const p of pieces) received += p.byteLength })
      conn.onEnd(() => { resolve() })
      conn.onClose((err) => { if (err != null) reject(err) })
    })
    conn.destroy()
  } else {
    const keys = deriveBulkKeys(Buffer.from(offer.secret, 'hex'), Buffer.from(offer.id, 'hex'))
    const opener = new RecordOpener(keys.targetToOrigin, BULK_MAX_RECORD_BYTES)
    await new Promise<void>((resolve, reject) => {
      const socket = tcpConnect({
        host: '127.0.0.1',
        port: offer.port,
        noDelay: true,
        onread: { buffer: Buffer.allocUnsafe(1024 * 1024), callback: (n, buf) => { opener.push(buf.subarray(0, n), (pieces) => { for (const p of pieces) received += p.byteLength }); return true } }
      })
      socket.on('end', () => { resolve() })
      socket.on('error', reject)
    })
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return received / 1e6 / seconds
}

/** CPU seconds this process used: the cost of its side, whatever else the machine runs. */
function cpuSeconds (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

async function main (): Promise<void> {
  const [mode, impl, arg] = process.argv.slice(2)
  if (mode === 'serve') {
    await serve(impl, Number(arg))
    process.stdout.write(`${cpuSeconds()}\n`)
  } else {
    const rate = await fetch(impl, JSON.parse(arg))
    process.stdout.write(`${rate} ${cpuSeconds()}\n`)
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
