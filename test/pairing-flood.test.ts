import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pbStream, streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createPairing, InviteBook, type Pairing } from '../src/pairing/index.js'
import { PairRequestQueue } from '../src/pairing/requests.js'
import { createAccess, sourceOf } from '../src/access/index.js'
import { TrustStore } from '../src/trust/index.js'
import { PairRequest, PairResponse } from '../src/wire/pair.js'
import { MAX_PAIR_REQUESTS, MAX_PAIR_REQUESTS_PER_SOURCE, PAIR_REQUEST_TTL_MS, PROTOCOL_PAIR } from '../src/constants.js'
import { cleanup, tmpDir } from './helpers/node.js'
import type { DaemonEvent } from '../src/events.js'
import type { Libp2p, StreamHandler } from '@libp2p/interface'

/** One pairing service over stubbed libp2p: streams are handed to its handler as if from a peer at `ip`. */
async function pairingService (): Promise<{ pairing: Pairing, invites: InviteBook, clock: { t: number }, ask: (ip: string, kind: PairRequest.Kind, token?: string) => Promise<PairResponse> }> {
  const clock = { t: 1_000_000 }
  const now = (): number => clock.t
  const trust = await TrustStore.load(join(await tmpDir(), 'trust.json'))
  const invites = new InviteBook(now)
  const events: DaemonEvent[] = []
  const access = createAccess({ trust, outstandingInvites: () => invites.outstanding(), strangerConnections: () => 0, log: () => {} }, { acceptPairRequests: true })
  let handler: StreamHandler | undefined
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const libp2p = {
    peerId: self,
    handle: async (_protocol: string, h: StreamHandler) => { handler = h },
    unhandle: async () => {},
    getMultiaddrs: () => [],
    getConnections: () => [],
    hangUp: async () => {},
    peerStore: { merge: async () => {}, delete: async () => {} }
  } as unknown as Libp2p
  const pairing = createPairing({ libp2p, trust, invites, access, events: { emit: (e) => { events.push(e) }, subscribe: () => () => {} }, now }, { acceptPairRequests: true })
  await pairing.start()
  const ask = async (ip: string, kind: PairRequest.Kind, token = ''): Promise<PairResponse> => {
    const remotePeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const [outbound, inbound] = await streamPair({ protocol: PROTOCOL_PAIR })
    const connection = { remotePeer, remoteAddr: multiaddr(`/ip4/${ip}/tcp/40000`), close: async () => {}, abort: () => {} }
    void (handler as StreamHandler)(inbound, connection as any)
    const messages = pbStream(outbound)
    await messages.write({ kind, token, alias: 'x', addrs: [] }, PairRequest)
    const response = await messages.read(PairResponse)
    await outbound.close()
    return response
  }
  return { pairing, invites, clock, ask }
}

describe('pairing requests: bounded per source and in all, short-lived; invites always work', function () {
  afterEach(cleanup)

  it('an empty frame (all fields zero: kind UNSPECIFIED) is refused, never taken as a request or a redeem', async () => {
    const { pairing, ask } = await pairingService()
    const answer = await ask('10.0.0.9', PairRequest.Kind.UNSPECIFIED)
    assert.equal(answer.status, PairResponse.Status.REFUSED)
    assert.match(answer.error, /unknown pairing message/)
    assert.deepEqual(pairing.requests(), [])
    assert.equal(PairRequest.decode(new Uint8Array(0)).kind, PairRequest.Kind.UNSPECIFIED)
    assert.equal(PairResponse.decode(new Uint8Array(0)).status, PairResponse.Status.UNSPECIFIED)
  })

  it('40 fresh identities from one address hold a few places; the owner\'s invite and another address\'s request still work', async () => {
    const { pairing, invites, clock, ask } = await pairingService()
    const answers: PairResponse[] = []
    for (let i = 0; i < 40; i++) answers.push(await ask('10.0.0.66', PairRequest.Kind.REQUEST))
    assert.equal(answers.filter(a => a.status === PairResponse.Status.PENDING).length, MAX_PAIR_REQUESTS_PER_SOURCE)
    const refusals = answers.filter(a => a.status === PairResponse.Status.REFUSED)
    assert.equal(refusals.length, 40 - MAX_PAIR_REQUESTS_PER_SOURCE)
    assert.ok(refusals.every(a => /from your address/.test(a.error)), refusals.map(a => a.error).join('; '))
    assert.equal(pairing.requests().length, MAX_PAIR_REQUESTS_PER_SOURCE)

    // the owner's invite, redeemed from that same address while it floods
    const { token } = invites.create(60_000)
    const redeemed = await ask('10.0.0.66', PairRequest.Kind.REDEEM, token)
    assert.equal(redeemed.status, PairResponse.Status.PAIRED, redeemed.error)
    const honest = await ask('10.0.0.7', PairRequest.Kind.REQUEST)
    assert.equal(honest.status, PairResponse.Status.PENDING, honest.error)
    assert.equal(pairing.requests().length, MAX_PAIR_REQUESTS_PER_SOURCE + 1)

    // minutes, not a quarter of an hour: then the places are free again
    clock.t += PAIR_REQUEST_TTL_MS + 1
    assert.deepEqual(pairing.requests(), [])
    assert.ok(PAIR_REQUEST_TTL_MS <= 5 * 60_000)
  })

  it('40 identities from 40 addresses fill the queue to its bound, and an honest newcomer and an invite still get in', async () => {
    const { pairing, invites, ask } = await pairingService()
    for (let i = 0; i < 40; i++) assert.equal((await ask(`10.0.1.${i + 1}`, PairRequest.Kind.REQUEST)).status, PairResponse.Status.PENDING)
    assert.equal(pairing.requests().length, MAX_PAIR_REQUESTS)
    const honest = await ask('192.168.5.5', PairRequest.Kind.REQUEST)
    assert.equal(honest.status, PairResponse.Status.PENDING, honest.error)
    assert.equal(pairing.requests().length, MAX_PAIR_REQUESTS)
    const { token } = invites.create(60_000)
    assert.equal((await ask('10.0.1.1', PairRequest.Kind.REDEEM, token)).status, PairResponse.Status.PAIRED)
  })

  it('the queue: a full queue gives way to a newcomer from the source holding the fewest, never to that holding the most', () => {
    const clock = { t: 0 }
    const queue = new PairRequestQueue({ now: () => clock.t, max: 4, maxPerSource: 3, ttlMs: 1000 })
    const add = (id: string, source: string): ReturnType<PairRequestQueue['add']> => { clock.t++; return queue.add({ id, addrs: [] }, source) }
    assert.equal(add('a1', 'A').ok, true)
    assert.equal(add('a2', 'A').ok, true)
    assert.equal(add('a3', 'A').ok, true)
    assert.deepEqual(add('a4', 'A'), { ok: false, reason: 'too many pending pairing requests from your address; ask this node\'s owner for an invite line' })
    assert.equal(add('b1', 'B').ok, true)
    // full: C (holding none) takes A's oldest place
    const c1 = add('c1', 'C')
    assert.equal(c1.ok && c1.evicted?.id, 'a1')
    // a repeated request does not live longer
    const before = queue.get('b1')?.receivedAt
    assert.deepEqual(add('b1', 'B'), { ok: true, fresh: false })
    assert.equal(queue.get('b1')?.receivedAt, before)
    // A and B and C now hold 2, 1, 1: a second from B takes A's place; a third from B would hold the most and is refused
    const b2 = add('b2', 'B')
    assert.equal(b2.ok && b2.evicted?.id, 'a2')
    assert.equal(add('b3', 'B').ok, false)
    clock.t += 1000
    assert.deepEqual(queue.list().map(r => r.id), [])
  })

  it('a source is the IPv4 address, or the /64 of an IPv6 one', () => {
    assert.equal(sourceOf(multiaddr('/ip4/10.1.2.3/tcp/1')), '10.1.2.3')
    assert.equal(sourceOf(multiaddr('/ip6/2001:db8:0:1::5/tcp/1')), sourceOf(multiaddr('/ip6/2001:db8:0:1:ffff::9/tcp/1')))
    assert.notEqual(sourceOf(multiaddr('/ip6/2001:db8:0:1::5/tcp/1')), sourceOf(multiaddr('/ip6/2001:db8:0:2::5/tcp/1')))
    assert.equal(sourceOf(multiaddr('/ip6/::1/tcp/1')), '0:0:0:0::/64')
  })
})
