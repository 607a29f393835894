import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { kappaYamux } from '../src/daemon/muxer.js'
import type { MultiaddrConnection, Stream, StreamMuxer } from '@libp2p/interface'

/**
 * The daemon's yamux over an in-memory connection pair: what the receiving
 * side sends back (it only ever sends window updates and the stream's ACK
 * here) is counted in bytes, 12 per frame.
 */
interface Pair { client: StreamMuxer, server: StreamMuxer, inbound: Promise<Stream>, serverBytesSent: () => number }

function pair (): Pair {
  const [outConn, inConn] = multiaddrConnectionPair()
  let sent = 0
  const send = inConn.send.bind(inConn)
  ;(inConn as { send: MultiaddrConnection['send'] }).send = (data) => { sent += data.byteLength; return send(data) }
  const factory = kappaYamux()()
  const client = factory.createStreamMuxer(outConn)
  const server = factory.createStreamMuxer(inConn)
  const inbound = new Promise<Stream>((resolve) => { server.addEventListener('stream', (e) => { resolve(e.detail) }, { once: true }) })
  return { client, server, inbound, serverBytesSent: () => sent }
}

async function write (stream: Stream, data: Uint8Array): Promise<void> {
  if (!stream.send(data)) await stream.onDrain()
}

describe('the daemon\'s yamux', function () {
  this.timeout(60_000)
  const opened: Pair[] = []
  afterEach(async () => {
    for (const p of opened.splice(0)) {
      await Promise.all([p.client.close(), p.server.close()]).catch(() => {})
    }
  })

  it('does not answer each small message with a window update, and grants more window before it runs out', async () => {
    const p = pair(); opened.push(p)
    const stream = await p.client.createStream()
    const message = new Uint8Array(100)
    await write(stream, message)
    const inbound = await p.inbound
    const received: number[] = []
    inbound.addEventListener('message', (e) => { received.push(e.data.byteLength) })
    const afterOpen = await settled(p.serverBytesSent)
    // 1000 messages of 100 bytes: 100 kB, under half of yamux's first window (256 KiB)
    for (let i = 1; i < 1000; i++) await write(stream, message)
    await until(() => sum(received) === 100_000)
    assert.equal(p.serverBytesSent() - afterOpen, 0, 'the receiver sent a frame back although less than half its window was used')
    // past half the window: one update, and the sender keeps sending without a stall
    for (let i = 0; i < 2000; i++) await write(stream, message)
    await until(() => sum(received) === 300_000)
    const updates = (p.serverBytesSent() - afterOpen) / 12
    assert.ok(updates >= 1 && updates <= 2, `window updates for 300 kB in 100-byte messages: ${updates}`)
  })

  it('moves 40 MB to a reader that pauses, byte for byte', async () => {
    const p = pair(); opened.push(p)
    const stream = await p.client.createStream()
    const data = randomBytes(40 * 1024 * 1024)
    const digest = createHash('sha256')
    let got = 0
    const done = (async () => {
      const inbound = await p.inbound
      let n = 0
      for await (const chunk of inbound) {
        digest.update(chunk.subarray())
        got += chunk.byteLength
        // a slow consumer: the stream's buffer fills and yamux stops granting window meanwhile
        if (++n % 50 === 0) await new Promise(resolve => setTimeout(resolve, 5))
        if (got === data.byteLength) break
      }
    })()
    for (let off = 0; off < data.byteLength; off += 65536) await write(stream, data.subarray(off, off + 65536))
    await done
    assert.equal(got, data.byteLength)
    assert.equal(digest.digest('hex'), createHash('sha256').update(data).digest('hex'))
  })
})

function sum (xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0)
}

async function until (cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise(resolve => setTimeout(resolve, 5))
}

/** The value once it stopped moving for a few turns (the stream's ACK has gone out). */
async function settled (value: () => number): Promise<number> {
  let last = -1
  let same = 0
  while (same < 5) {
    await new Promise(resolve => setTimeout(resolve, 5))
    const v = value()
    same = v === last ? same + 1 : 0
    last = v
  }
  return last
}
