import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { TicketBook, proveOrigin, verifyOrigin } from '../../src/tickets/index.js'
import { ProbeRequest, ProbeResponse } from '../../src/wire/probe.js'
import { MAX_HELD_TICKETS_PER_RELAY, MAX_TICKETS_PER_RELAY, PROTOCOL_PROBE, TICKET_HOLD_MS } from '../../src/constants.js'
import { startNode, pairNodes, cleanup, gossipLive, PAIR_DELAY } from '../helpers/node.js'
import { libp2pClient, homeKey } from '../helpers/client.js'

describe('migration tickets: a proved origin, a cap per relaying neighbour, no "busy" from unused ones', function () {
  afterEach(cleanup)

  it('the book: a neighbour\'s unused tickets are capped, hold few slots and briefly, and one probe gets one ticket', () => {
    const clock = { t: 1_000 }
    const book = new TicketBook({ now: () => clock.t, ttlMs: 30_000 })
    const fromP = Array.from({ length: MAX_TICKETS_PER_RELAY }, (_, i) => book.issue(`X${i}`, 'P', `probe-${i}`))
    assert.ok(fromP.every(r => r.ok))
    const over = book.issue('X-more', 'P', 'probe-more')
    assert.equal(over.ok, false)
    assert.match(!over.ok ? over.reason : '', /too many unused migration tickets through P/)
    assert.equal(book.outstanding(), MAX_HELD_TICKETS_PER_RELAY, 'one neighbour\'s unused tickets hold at most this many slots')
    // another neighbour is not held back by P's
    const honest = book.issue('H', 'Q', 'probe-h')
    assert.equal(honest.ok, true)
    assert.equal(book.outstanding(), MAX_HELD_TICKETS_PER_RELAY + 1)
    // the same probe again (a replay) gets no second ticket
    const replay = book.issue('H', 'Q', 'probe-h')
    assert.equal(replay.ok, false)
    // after the hold an unused ticket holds no slot, but can still be used
    clock.t += TICKET_HOLD_MS
    assert.equal(book.outstanding(), 0)
    assert.equal(honest.ok && book.redeem('H', honest.ticket.secret).ok, true)
    assert.equal(book.holds('X0'), true)
    // P's tickets count against its cap until they are used or expire
    assert.equal(book.issue('X-more', 'P', 'probe-more').ok, false)
    const first = fromP[0]
    assert.equal(first.ok && book.redeem('X0', first.ticket.secret).ok, true)
    assert.equal(book.issue('X-more', 'P', 'probe-more').ok, true)
    clock.t += 30_001
    assert.equal(book.issue('X-later', 'P', 'probe-later').ok, true, 'expired tickets no longer count')
  })

  it('an origin proof verifies only for the origin\'s own key, that probe and that first hop', async () => {
    const origin = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const o = peerIdFromPrivateKey(origin).toString()
    const hop = peerIdFromPrivateKey(other).toString()
    const proof = await proveOrigin(origin, 'p1', o, hop)
    assert.equal(await verifyOrigin(proof, 'p1', o, hop), true)
    assert.equal(await verifyOrigin(proof, 'p2', o, hop), false)
    assert.equal(await verifyOrigin(proof, 'p1', o, o), false)
    assert.equal(await verifyOrigin(await proveOrigin(other, 'p1', o, hop), 'p1', o, hop), false, 'signed by the relay, not the origin')
    assert.equal(await verifyOrigin(new Uint8Array(0), 'p1', o, hop), false)
    assert.equal(await verifyOrigin(proof, 'p1', 'not-a-peer-id', hop), false)
  })

  it('a paired peer cannot get tickets for made-up origins, is capped for its own, and an honest probe is still answered', async () => {
    const [p, h, t] = await Promise.all([
      startNode('p', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
      startNode('h', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
      startNode('t', { args: ['--delay', PAIR_DELAY, '--metric-override', '148', '--max-jobs', '4'] })
    ])
    await pairNodes(p, t)
    await pairNodes(h, t)
    await gossipLive(p, t)
    await gossipLive(h, t)
    // P misbehaving: its own key, its own connection to T
    const asP = await libp2pClient(p.home)
    const connection = await asP.dial(multiaddr(t.addrs[0]))
    const probe = async (origin: string, proof: Uint8Array<ArrayBuffer>, id = randomBytes(4).toString('hex')): Promise<ProbeResponse> => {
      const messages = pbStream(await connection.newStream(PROTOCOL_PROBE))
      await messages.write({ id, origin, sender: p.id, path: [origin, p.id], ttl: 6, timeoutMs: 2000, originProof: proof }, ProbeRequest)
      return await messages.read(ProbeResponse)
    }
    const fresh = async (): Promise<{ id: string, key: Awaited<ReturnType<typeof generateKeyPair>> }> => {
      const key = await generateKeyPair('Ed25519')
      return { id: peerIdFromPrivateKey(key).toString(), key }
    }

    // made-up origins: unsigned, or signed by P itself
    const keyP = await homeKey(p.home)
    for (let i = 0; i < 4; i++) {
      const made = await fresh()
      const id = `fake${i}`
      const r = await probe(made.id, i % 2 === 0 ? new Uint8Array(0) : await proveOrigin(keyP, id, made.id, p.id), id)
      assert.equal(r.status, ProbeResponse.Status.DECLINED)
      assert.equal(r.reason, 'origin-unproved')
      assert.equal(r.ticket.byteLength, 0)
    }
    // origins P really holds the keys of (it made them): capped per relaying neighbour
    const answers: ProbeResponse[] = []
    for (let i = 0; i <= MAX_TICKETS_PER_RELAY; i++) {
      const made = await fresh()
      const id = `own${i}`
      answers.push(await probe(made.id, await proveOrigin(made.key, id, made.id, p.id), id))
    }
    assert.equal(answers.filter(r => r.status === ProbeResponse.Status.REPLY && r.ticket.byteLength > 0).length, MAX_TICKETS_PER_RELAY)
    assert.match(answers[MAX_TICKETS_PER_RELAY].reason, /too many unused migration tickets/)

    // an honest neighbour's probe, at once: T answers it, not "busy"
    const honest = await h.json(['probe'])
    assert.equal(honest.local, false, JSON.stringify(honest))
    assert.equal(honest.target.id, t.id)
    assert.equal((await t.json(['status'])).jobs.in.length, 0)
  })
})
