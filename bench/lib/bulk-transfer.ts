/**
 * One bulk transfer between two processes on 127.0.0.1, for bench/bulk:
 * `node bulk-transfer.js serve IMPL BYTES` prints its offer as one JSON line
 * and sends BYTES in 256 KiB frames to the first connection;
 * `node bulk-transfer.js fetch IMPL OFFER` receives them and prints MB/s.
 * Each side then prints the CPU seconds it used (a cost the machine's other
 * load changes much less than MB/s).
 *
 * IMPL `records` is src/bulk as the daemons use it (AES-256-GCM records,
 * keyed per direction, an end record). `tls` is the alternative issue 11
 * proposed, TLS 1.3 through node:tls with the offer's secret as a PSK
 * (identity the offer id, TLS_AES_128_GCM_SHA256), framed the same way, in
 * its fastest form found here (a branch of kappa-node ran on it): the
 * sender copies each frame into reused send buffers, the receiver reads
 * into one reused buffer (onread) and copies each frame out into fresh
 * memory, as a receiver that keeps frames must.
 */
import { createServer } from 'node:net'
import { connect as tlsConnect, TLSSocket } from 'node:tls'
import { randomBytes } from 'node:crypto'
import { createBulkListener, connectBulk } from '../../src/bulk/index.js'
import { BULK_READ_BUFFER_BYTES, MIGRATE_CHUNK_BYTES } from '../../src/constants.js'

const WRITE_QUEUE_BYTES = 4 * 1024 * 1024
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' } as const
const PIECE_BYTES = 64 * 1024

interface Offer { port: number, id: string, secret: string }

async function serve (impl: string, bytes: number): Promise<void> {
  const frame = randomBytes(MIGRATE_CHUNK_BYTES)
  const frames = Math.ceil(bytes / frame.length)
  if (impl === 'records') {
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
  const id = randomBytes(16).toString('hex')
  const secret = randomBytes(32)
  await new Promise<void>((resolve) => {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
      const options = { ...TLS13, isServer: true, pskCallback: (_s: TLSSocket, identity: string) => identity === id ? secret : null }
      const tls = new TLSSocket(raw, options)
      tls.once('secure', () => {
        void (async () => {
          const spare: Buffer[] = []
          for (let i = 0; i < frames; i++) {
            const out = spare.pop() ?? Buffer.allocUnsafe(4 + frame.length)
            out.writeUInt32BE(frame.length, 0)
            frame.copy(out, 4)
            tls.write(out, () => { spare.push(out) })
            if (tls.writableLength > WRITE_QUEUE_BYTES) await new Promise(resolve => tls.once('drain', resolve))
          }
          tls.end(() => { server.close(); resolve() })
        })()
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const offer: Offer = { port: typeof address === 'object' && address != null ? address.port : 0, id, secret: secret.toString('hex') }
      process.stdout.write(JSON.stringify(offer) + '\n')
    })
  })
}

async function fetch (impl: string, offer: Offer): Promise<number> {
  const start = process.hrtime.bigint()
  let received = 0
  if (impl === 'records') {
    const conn = await connectBulk('127.0.0.1', { port: offer.port, id: Buffer.from(offer.id, 'hex'), secret: Buffer.from(offer.secret, 'hex') }, AbortSignal.timeout(10_000))
    await new Promise<void>((resolve, reject) => {
      conn.onRecords((pieces) => { for (const p of pieces) received += p.byteLength })
      conn.onEnd(() => { resolve() })
      conn.onClose((err) => { if (err != null) reject(err) })
    })
    conn.destroy()
  } else {
    // [length][payload] frames out of the reused read buffer, each copied into fresh pieces
    let header = 0
    let headerBytes = 0
    let remaining = 0
    let piece: Buffer | undefined
    let filled = 0
    const take = (buf: Buffer): void => {
      let i = 0
      while (i < buf.length) {
        if (remaining === 0) {
          header = header * 256 + buf[i++]
          if (++headerBytes === 4) { remaining = header; header = 0; headerBytes = 0 }
          continue
        }
        piece ??= Buffer.allocUnsafe(Math.min(PIECE_BYTES, remaining))
        const n = Math.min(piece.length - filled, buf.length - i)
        buf.copy(piece, filled, i, i + n)
        filled += n
        i += n
        remaining -= n
        if (filled === piece.length) { received += filled; piece = undefined; filled = 0 }
      }
    }
    await new Promise<void>((resolve, reject) => {
      const options = {
        ...TLS13,
        host: '127.0.0.1',
        port: offer.port,
        checkServerIdentity: () => undefined,
        pskCallback: () => ({ identity: offer.id, psk: Buffer.from(offer.secret, 'hex') }),
        onread: { buffer: Buffer.allocUnsafe(BULK_READ_BUFFER_BYTES), callback: (n: number, buf: Uint8Array) => { take((buf as Buffer).subarray(0, n)); return true } }
      }
      const socket = tlsConnect(options)
      socket.setNoDelay(true)
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
