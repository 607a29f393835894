import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import { createOverlay, type Overlay, type OverlayComponents } from '../src/overlay/index.js'
import { TrustStore } from '../src/trust/index.js'
import { createAccess } from '../src/access/index.js'
import { TicketBook } from '../src/tickets/index.js'
import { PROTOCOL_PROBE } from '../src/constants.js'
import { ProbeResponse } from '../src/wire/probe.js'
import { cleanup, onCleanup, tmpDir, until } from './helpers/node.js'
import type { Connection, PeerId, PrivateKey, Stream, StreamHandler } from '@libp2p/interface'
import type { DaemonEvent } from '../src/events.js'

/**
 * The overlay service alone, in this process: no daemon, no sockets. Its
 * libp2p is a stub registrar whose "connections" are in-memory stream pairs
 * (@libp2p/utils streamPair), and its clock is the test's.
 */
interface Member {
  name: string
  key: PrivateKey
  peerId: PeerId
  handlers: Map<string, StreamHandler>
  links: Map<string, Member>
  metric: number
  /** its value as the origin of a job, when it differs (a saturated origin yields ties) */
  originMetric?: number
  overlay?: Overlay
}

const DELAY = 20

async function member (name: string, metric: number): Promise<Member> {
  const key = await generateKeyPair('Ed25519')
  return { name, key, peerId: peerIdFromPrivateKey(key), handlers: new Map(), links: new Map(), metric }
}

/** A connection from `from` to `to`: each newStream is a fresh in-memory pair whose far end goes to `to`'s handler. */
function connection (from: Member, to: Member): Connection {
  const back = { remotePeer: from.peerId, status: 'open' } as unknown as Connection
  return {
    remotePeer: to.peerId,
    status: 'open',
    newStream: async (protocol: string | string[]): Promise<Stream> => {
      const name = Array.isArray(protocol) ? protocol[0] : protocol
      const handler = to.handlers.get(name)
      if (handler == null) throw new Error(`${to.name} does not handle ${name}`)
      const [outbound, inbound] = await streamPair()
      void Promise.resolve(handler(inbound, back)).catch(() => {})
      return outbound
    }
  } as unknown as Connection
}

async function startMember (m: Member, peers: Member[], now: () => number, delayMs = DELAY): Promise<Overlay> {
  const home = await tmpDir(`kappa-overlay-${m.name}-`)
  const trust = await TrustStore.load(join(home, 'trust.json'))
  for (const p of peers) await trust.add({ id: p.peerId.toString(), alias: p.name, addrs: [], pairedAt: 0 })
  const events = { emit: (_e: DaemonEvent) => {}, subscribe: () => () => {} }
  const libp2p: OverlayComponents['libp2p'] = {
    peerId: m.peerId,
    handle: async (protocol: string | string[], handler: StreamHandler) => { for (const p of [protocol].flat()) m.handlers.set(p, handler) },
    unhandle: async (protocol: string | string[]) => { for (const p of [protocol].flat()) m.handlers.delete(p) },
    getConnections: ((peer?: PeerId) => {
      const to = peer == null ? undefined : m.links.get(peer.toString())
      return to == null ? [] : [connection(m, to)]
    }) as OverlayComponents['libp2p']['getConnections'],
    getMultiaddrs: () => []
  }
  const access = createAccess({ trust, holdsTicket: () => false, outstandingInvites: () => 0, strangerConnections: () => 0, log: () => {} }, { acceptPairRequests: false })
  const overlay = createOverlay({
    libp2p,
    now,
    trust,
    access,
    events,
    tickets: new TicketBook(),
    privateKey: m.key,
    ownMetric: () => m.metric,
    originMetric: () => m.originMetric ?? m.metric,
    meets: () => true
  }, { delayMs, c: 15 })
  await overlay.start()
  onCleanup(async () => { await overlay.stop() })
  m.overlay = overlay
  return overlay
}

function link (x: Member, y: Member): void {
  x.links.set(y.peerId.toString(), y)
  y.links.set(x.peerId.toString(), x)
}

/** A – B – C in a line with these metrics, started on clock `now`; A's overlay as `A`. */
async function line (metrics: [number, number, number], now: () => number): Promise<{ a: Member, b: Member, c: Member, A: Overlay }> {
  const [a, b, c] = await Promise.all([member('A', metrics[0]), member('B', metrics[1]), member('C', metrics[2])])
  link(a, b)
  link(b, c)
  const A = await startMember(a, [b], now)
  await startMember(b, [a, c], now)
  await startMember(c, [b], now)
  return { a, b, c, A }
}

describe('overlay service in-process (stub registrar, in-memory streams, injected clock)', () => {
  afterEach(cleanup)

  it('gossip carries C\'s value to A through B, a probe walks A → B → C, and silence expires a neighbour on the injected clock only', async () => {
    let clock = 1_000_000
    const now = (): number => clock
    const { a, b, c, A } = await line([37, 60, 148], now)
    const bAtA = (): { dismetric: number, live: boolean } | undefined => A.status().neighbours.find(n => n.id === b.peerId.toString())
    // gossip ticks are real timers; the clock the tables use is ours, and it does not move here
    await until('A to see C\'s value through B', async () => bAtA()?.dismetric === 148 - 2 * 15)

    const probe = await A.probe()
    assert.equal(probe.local, false)
    assert.ok(!probe.local)
    assert.deepEqual(probe.path, [a, b, c].map(m => m.peerId.toString()))
    assert.equal(probe.target.id, c.peerId.toString())
    assert.equal(probe.target.sysmetric, 148)

    // B goes silent (its overlay stops). However long the test waits, A keeps it while A's clock stands still …
    await b.overlay?.stop()
    b.handlers.clear()
    await new Promise(resolve => setTimeout(resolve, 10 * DELAY)) // ten real delays pass, none on A's clock
    assert.equal(bAtA()?.live, true)
    // … and drops it once its clock has moved 3 delays past B's last message
    clock += 3 * DELAY + 1
    await until('A to drop B', async () => bAtA()?.live === false)
    const after = await A.probe()
    assert.equal(after.local, true)
    assert.ok(after.local && /no-live-neighbour/.test(after.reason))
  })

  it('a probe answer without a status (an empty frame, or fields but no status) is refused as a failed hop, and the nodes go on', async () => {
    const now = (): number => 1_000_000
    // B is no better than A: it must forward A's probe to C, whose answers are the test's
    const { a, b, c, A } = await line([37, 37, 148], now)
    const [aId, bId, cId] = [a, b, c].map(m => m.peerId.toString())
    await until('A to see C\'s value through B', async () => A.status().neighbours.find(n => n.id === bId)?.dismetric === 148 - 2 * 15)

    const real = c.handlers.get(PROTOCOL_PROBE)
    assert.ok(real != null)
    /** C reads the probe and answers with `frame` as the response message. */
    const answer = (frame: Uint8Array): void => {
      c.handlers.set(PROTOCOL_PROBE, async (stream) => {
        const lp = lpStream(stream)
        await lp.read()
        await lp.write(frame)
        await stream.close()
      })
    }
    // an empty frame: what version 1 decoded as REPLY
    answer(new Uint8Array(0))
    const empty = await A.probe()
    assert.ok(empty.local, 'an empty answer must not be taken as a reply')
    assert.match(empty.reason, /probe declined: next hop \S+ did not answer: \S+ answered the probe without a status/)
    // a frame that has everything a reply has but its status: C offers itself, without saying it replies
    const noStatus = ProbeResponse.encode({ status: ProbeResponse.Status.REPLY, id: 'x', target: cId, sysmetric: 148, path: [aId, bId, cId], addrs: [], ticket: new Uint8Array(32), ticketTtlMs: 30_000, reason: '' })
    assert.deepEqual([...noStatus.subarray(0, 2)], [0x08, 1], 'the status is the first field')
    answer(noStatus.subarray(2))
    const unmarked = await A.probe()
    assert.ok(unmarked.local)
    assert.match(unmarked.reason, /without a status/)

    // B and C go on: with C's own handler back, the same probe walks A → B → C
    c.handlers.set(PROTOCOL_PROBE, real)
    const after = await A.probe()
    assert.ok(!after.local, after.local ? after.reason : '')
    assert.deepEqual(after.path, [aId, bId, cId])
    assert.equal(after.target.id, cId)
  })

  it('as the origin of a job a node weighs its origin value (Algorithm II and the bar its probe sets), not the value it advertises', async () => {
    const now = (): number => 1_000_000
    // c = 15: B's 110 is 95 at A
    const [a, b] = await Promise.all([member('A', 100), member('B', 110)])
    link(a, b)
    const A = await startMember(a, [b], now)
    await startMember(b, [a], now)
    await until('A to hear B', async () => A.status().neighbours.find(n => n.id === b.peerId.toString())?.dismetric === 95)
    const kept = await A.probe()
    assert.ok(kept.local && kept.reason === 'local-is-best', JSON.stringify(kept))
    // saturated, A weighs itself at 90: it probes B, and B answers because its 95 beats the 90 the
    // probe asks for (with A's advertised 100 as the bar B would decline)
    a.originMetric = 90
    const sent = await A.probe()
    assert.ok(!sent.local, sent.local ? sent.reason : '')
    assert.equal(sent.target.id, b.peerId.toString())
    // what A advertises did not move
    await until('B to hear A', async () => b.overlay?.status().neighbours.find(n => n.id === a.peerId.toString())?.sysmetric === 100)
  })

  it('a triggered update goes out only when the value moved (by 0.5 or more); the periodic one goes regardless', async () => {
    const now = (): number => 1_000_000
    // A's 100 stays its send_probe whatever B (60, 45 after c) says: only A's own changes trigger A
    const [a, b] = await Promise.all([member('A', 100), member('B', 60)])
    link(a, b)
    // a delay of a minute: every message after the first is a triggered one (B first, so that A's first reaches it)
    const B = await startMember(b, [a], now, 60_000)
    const A = await startMember(a, [b], now, 60_000)
    const aAtB = (): number | undefined => B.status().neighbours.find(n => n.id === a.peerId.toString())?.sysmetric
    await until('B to hear A\'s first value', async () => aAtB() === 100)
    assert.equal(A.status().messages.sent, 1)

    A.changed()
    await until('the unchanged update to be skipped', async () => A.status().messages.unchanged === 1)
    a.metric = 100.3
    A.changed()
    await until('the update that moved 0.3 to be skipped', async () => A.status().messages.unchanged === 2)
    assert.equal(A.status().messages.sent, 1)
    assert.equal(aAtB(), 100)

    a.metric = 140
    A.changed()
    await until('B to hear A\'s new value', async () => aAtB() === 140)
    assert.equal(A.status().messages.sent, 2)
    assert.equal(A.status().messages.unchanged, 2)
    assert.equal(B.status().messages.received, 2)
  })
})
