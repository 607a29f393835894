import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode, pairNodes, cleanup, until } from '../helpers/node.js'
import { libp2pClient } from '../helpers/client.js'
import { PairRequest, PairResponse } from '../../src/wire/pair.js'
import { pbStream } from '@libp2p/utils'
import { PROTOCOL_PAIR } from '../../src/constants.js'

/** A frame that is wrong in one of the ways a hostile or broken peer can be wrong. */
function badFrame (i: number): Uint8Array {
  const valid = PairRequest.encode({ kind: PairRequest.Kind.REDEEM, token: randomBytes(16).toString('base64url'), alias: 'fuzz', addrs: [randomBytes(20)] })
  switch (i % 6) {
    case 0: return randomBytes(1 + (i % 300)) // noise
    case 1: return concat(varint.encode(valid.length), valid.subarray(0, Math.max(0, valid.length - 1 - (i % 5)))) // truncated body
    case 2: return concat(varint.encode(1024 * 1024), randomBytes(64)) // oversized length prefix
    case 3: return concat(varint.encode(4000), randomBytes(4000)) // big, within limit, garbage protobuf
    case 4: { const body = randomBytes(10 + (i % 50)); return concat(varint.encode(body.length), body) } // well-framed garbage
    default: { // unknown enum value (field 1 = 7), control characters, too many addrs
      const m = concat(Uint8Array.from([0x08, 0x07]), PairRequest.encode({ kind: PairRequest.Kind.REQUEST, token: '', alias: '\u0000\n'.repeat(20), addrs: Array.from({ length: 40 }, () => randomBytes(8)) }))
      return concat(varint.encode(m.length), m)
    }
  }
}

const varint = {
  encode (n: number): Uint8Array {
    const out: number[] = []
    while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
    out.push(n)
    return Uint8Array.from(out)
  }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

describe('fuzzing the protocols the foundation adds', function () {
  afterEach(cleanup)

  it('1 000 malformed, truncated and oversized /kappa/pair/2 frames leave the node running and answering', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    await pairNodes(a, b)
    // a paired peer is not rate-limited, so every frame reaches the parser
    const client = await libp2pClient(a.home)
    const connection = await client.dial(multiaddr(b.addrs[0]))
    let sent = 0
    for (let i = 0; i < 1000; i++) {
      const stream = await connection.newStream(PROTOCOL_PAIR)
      stream.send(badFrame(i))
      if (i % 3 === 0) await stream.close().catch(() => {})
      else stream.abort(new Error('fuzz'))
      sent++
    }
    assert.equal(sent, 1000)
    // still running, still serving pairing and the CLI
    assert.equal(b.proc.exitCode, null)
    assert.equal((await b.json(['id'])).id, b.id)
    const c = await startNode('c')
    await pairNodes(c, b)
    assert.ok((await b.json(['peers'])).some((p: any) => p.id === c.id))
  })

  it('a stranger hammering /kappa/pair/2 is rate-limited and the node goes on', async () => {
    const b = await startNode('b')
    const stranger = await libp2pClient()
    const errors: string[] = []
    for (let i = 0; i < 30; i++) {
      // libp2p itself also limits new inbound connections per host (5/s): retry those
      const connection = await until('a connection', async () => await stranger.dial(multiaddr(b.addrs[0])).catch(() => undefined), 10_000, 250)
      const stream = await connection.newStream(PROTOCOL_PAIR)
      const messages = pbStream(stream)
      await messages.write({ kind: PairRequest.Kind.REQUEST, token: '', alias: 'spam', addrs: [] }, PairRequest)
      const response = await messages.read(PairResponse)
      await stream.close()
      errors.push(response.status === PairResponse.Status.PENDING ? 'pending' : response.error)
      // the node hangs up on a stranger after each exchange
      await until('the stranger\'s connection to close', async () => connection.status !== 'open')
    }
    assert.equal(errors[0], 'pending')
    assert.ok(errors.some(e => /too many pairing attempts/.test(e)), errors.join(', '))
    // one request recorded, not thirty; nothing paired; node alive
    assert.equal((await b.json(['requests'])).length, 1)
    assert.deepEqual(await b.json(['peers']), [])
    assert.equal((await b.json(['id'])).id, b.id)
  })

  it('1 000 garbage requests on the control socket leave the daemon running', async () => {
    const a = await startNode('a')
    const path = join(a.home, 'control.sock')
    const answers: string[] = []
    for (let i = 0; i < 1000; i++) {
      const payload = i % 4 === 0
        ? randomBytes(1 + (i % 200))
        : i % 4 === 1
          ? Buffer.from(JSON.stringify({ method: ['__proto__', 'constructor', 'toString', 'pair', 'unpair', 'accept', 'nope'][i % 7], params: i % 2 === 0 ? null : { target: randomBytes(8).toString('hex'), peer: 42 } }) + '\n')
          : i % 4 === 2
            ? Buffer.from('{"method": "status"') // truncated, never terminated
            : Buffer.from('[1,2,3]\n')
      answers.push(await new Promise<string>((resolve) => {
        const s = createConnection(path)
        let out = ''
        s.on('data', d => { out += String(d) })
        s.on('error', () => { resolve(out) })
        s.on('close', () => { resolve(out) })
        // garbage then EOF, or a request cut off mid-line by a vanishing client
        if (i % 4 === 2) {
          s.write(payload)
          setTimeout(() => { s.destroy() }, 5)
        } else {
          s.end(payload)
        }
      }))
    }
    // every well-framed request got a one-line refusal, never a crash
    for (const text of answers.filter(x => x !== '')) {
      const r = JSON.parse(text)
      assert.equal(typeof r.ok, 'boolean')
    }
    // an oversized line is refused too
    const big = await new Promise<string>((resolve) => {
      const s = createConnection(path)
      let out = ''
      s.on('data', d => { out += String(d) })
      s.on('close', () => { resolve(out) })
      s.on('error', () => { resolve(out) })
      s.write(Buffer.alloc(2 * 1024 * 1024, 0x61))
    })
    assert.match(big, /request too large/)
    assert.equal(a.proc.exitCode, null)
    assert.equal((await a.json(['id'])).id, a.id)
  })
})
