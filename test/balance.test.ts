import assert from 'node:assert/strict'
import {
  createGossip, decideOrigin, propagate, acceptReply, relayReply, validateProbe, validateReply,
  DEFAULT_C, DEFAULT_TTL, MAX_METRIC, MAX_TTL
} from '../src/balance/index.js'
import { chainScenario } from '../src/sim/scenarios.js'
import type { Gossip, GossipInit, Probe, ProbeReply, PropagateDecision, PropagateOptions, JobRequirements } from '../src/balance/index.js'

const DELAY = 100
const C = 15
const always = (): boolean => true

/**
 * A few gossip instances on an undirected graph, driven in lock-step rounds:
 * every node sends, then every message is delivered, then time advances one
 * delay. Enough to check Algorithm I without the simulator.
 */
class Rounds {
  readonly gossip = new Map<string, Gossip>()
  readonly metric = new Map<string, number>()
  readonly down = new Set<string>()
  now = 0

  constructor (metrics: Record<string, number>, edges: Array<[string, string]>, init: GossipInit = {}) {
    for (const [id, value] of Object.entries(metrics)) {
      this.gossip.set(id, createGossip({ c: C, delayMs: DELAY, ...init }))
      this.metric.set(id, value)
    }
    for (const [a, b] of edges) {
      this.g(a).addNeighbour(b)
      this.g(b).addNeighbour(a)
    }
  }

  g (id: string): Gossip {
    const g = this.gossip.get(id)
    assert.ok(g != null, `no node ${id}`)
    return g
  }

  m (id: string): number {
    return this.metric.get(id) ?? NaN
  }

  round (): void {
    const inFlight: Array<[string, string, ReturnType<Gossip['outgoing']>[number]['msg']]> = []
    for (const [id, g] of this.gossip) {
      if (this.down.has(id)) continue
      for (const { to, msg } of g.outgoing(this.m(id), this.now)) inFlight.push([id, to, msg])
    }
    for (const [from, to, msg] of inFlight) {
      if (!this.down.has(to)) this.g(to).receive(from, msg, this.now)
    }
    this.now += DELAY
  }

  rounds (n: number): void {
    for (let i = 0; i < n; i++) this.round()
  }

  /** Algorithms II and III end to end, synchronously; the reply (if any) and every hop taken. */
  probe (origin: string, opts: { requirements?: JobRequirements, meets?: (node: string, r?: JobRequirements) => boolean, propagate?: PropagateOptions, ttl?: number } = {}): { local?: string, reply?: ProbeReply, decline?: string, hops: string[] } {
    const first = decideOrigin(this.g(origin), origin, this.m(origin), this.now, { id: 'p1', ttl: opts.ttl, requirements: opts.requirements })
    if (first.kind === 'local') return { local: first.reason, hops: [] }
    const hops = [first.to]
    let at = first.to
    let probe = first.probe
    let from = origin
    for (let guard = 0; guard < 100; guard++) {
      if (this.down.has(at)) return { hops }
      const meets = (r?: JobRequirements): boolean => opts.meets?.(at, r) ?? true
      const d: PropagateDecision = propagate(this.g(at), at, from, probe, this.m(at), this.now, meets, opts.propagate)
      if (d.kind === 'reply') return { reply: d.reply, hops }
      if (d.kind === 'decline') return { decline: d.reason, hops }
      hops.push(d.to)
      from = at
      at = d.to
      probe = d.probe
    }
    throw new Error('probe did not terminate')
  }
}

function chain (init: GossipInit = {}): Rounds {
  return new Rounds({ A: 37, B: 60, C: 148 }, [['A', 'B'], ['B', 'C']], init)
}

describe('balance: Algorithm I (gossip)', () => {
  it('two nodes as in paper Table II: dismetric = sysmetric − c', () => {
    const net = new Rounds({ A: 37, B: 148 }, [['A', 'B']])
    net.rounds(2)
    assert.deepEqual(net.g('A').best(net.now), { id: 'B', dismetric: 133 })
    assert.equal(net.g('B').best(net.now)?.dismetric, 22)
    assert.equal(net.g('A').maxDist(net.now), 133)
    assert.equal(net.g('A').sendProbe(37, net.now), 133)
  })

  for (const splitHorizon of [false, true]) {
    it(`chain A–B–C 37/60/148: A sees B's dismetric = 148 − 2c (split horizon ${splitHorizon ? 'on' : 'off'})`, () => {
      const net = chain({ splitHorizon })
      net.rounds(4)
      assert.deepEqual(net.g('A').best(net.now), { id: 'B', dismetric: 148 - 2 * C })
      assert.deepEqual(net.g('B').best(net.now), { id: 'C', dismetric: 133 })
      const view = net.g('A').view(net.now)
      assert.equal(view.length, 1)
      assert.equal(view[0].sysmetric, 60)
      assert.equal(view[0].advertised, 133)
      assert.equal(view[0].live, true)
    })
  }

  it('receive() ignores unknown neighbours, bad values and stale sequence numbers', () => {
    const g = createGossip({ c: C, delayMs: DELAY })
    g.addNeighbour('B')
    const ok = { sendProbe: 100, sysmetric: 50, seq: 10 }
    assert.equal(g.receive('X', ok, 0), false, 'unknown neighbour')
    for (const bad of [
      { sendProbe: NaN, sysmetric: 50, seq: 11 },
      { sendProbe: Infinity, sysmetric: 50, seq: 11 },
      { sendProbe: -1, sysmetric: 0, seq: 11 },
      { sendProbe: MAX_METRIC + 1, sysmetric: 50, seq: 11 },
      { sendProbe: 100, sysmetric: -5, seq: 11 },
      { sendProbe: 40, sysmetric: 50, seq: 11 }, // send_probe is max(own, …) so never below own
      { sendProbe: 100, sysmetric: 50, seq: 1.5 },
      { sendProbe: 100, sysmetric: 50, seq: -1 },
      { sendProbe: '100', sysmetric: 50, seq: 11 },
      null
    ]) {
      assert.equal(g.receive('B', bad as any, 0), false, JSON.stringify(bad))
    }
    assert.equal(g.best(0), undefined, 'nothing accepted yet')
    assert.equal(g.receive('B', ok, 0), true)
    assert.equal(g.receive('B', { ...ok, sendProbe: 200 }, 1), false, 'repeated seq')
    assert.equal(g.receive('B', { ...ok, sendProbe: 200, seq: 9 }, 1), false, 'older seq')
    assert.equal(g.best(1)?.dismetric, 100 - C)
    assert.equal(g.receive('B', { ...ok, sendProbe: 200, seq: 11 }, 2), true)
    assert.equal(g.best(2)?.dismetric, 200 - C)
    // Silent past expiry, then restarted with low numbers: accepted fresh.
    assert.equal(g.receive('B', { ...ok, seq: 0 }, 2 + 3 * DELAY), true)
  })

  it('outgoing() sends to every neighbour with rising sequence numbers that follow the clock', () => {
    const g = createGossip({ c: C, delayMs: DELAY })
    g.addNeighbour('B')
    g.addNeighbour('C')
    const first = g.outgoing(50, 0)
    assert.deepEqual(first.map(o => o.to), ['B', 'C'])
    assert.deepEqual(first[0].msg, { sendProbe: 50, sysmetric: 50, seq: 0 })
    assert.equal(g.outgoing(50, 0)[0].msg.seq, 1)
    assert.equal(g.outgoing(50, 5000)[0].msg.seq, 5000)
    // Never advertise what a neighbour would reject.
    assert.equal(g.outgoing(NaN, 6000)[0].msg.sendProbe, 0)
    assert.equal(g.outgoing(-3, 6000)[0].msg.sysmetric, 0)
  })

  it('a neighbour silent for 3 × delay is dropped from routing, reported once, and returns when heard again', () => {
    const net = chain()
    net.rounds(4)
    const killedAt = net.now
    net.down.add('B')
    const lastHeard = killedAt - DELAY
    // Still routed while within the window …
    net.now = lastHeard + 3 * DELAY - 1
    assert.equal(net.g('A').isLive('B', net.now), true)
    assert.deepEqual(net.g('A').expire(net.now), [])
    // … and dropped once it has been silent for 3 × delay (< killedAt + 3 × delay).
    net.now = lastHeard + 3 * DELAY
    assert.ok(net.now <= killedAt + 3 * DELAY)
    assert.equal(net.g('A').isLive('B', net.now), false)
    assert.equal(net.g('A').best(net.now), undefined)
    assert.equal(net.g('A').maxDist(net.now), 0)
    assert.deepEqual(net.g('A').expire(net.now), ['B'])
    assert.deepEqual(net.g('A').expire(net.now + DELAY), [], 'reported once')
    assert.deepEqual(net.probe('A'), { local: 'no-live-neighbour', hops: [] })
    assert.equal(net.g('A').view(net.now)[0].live, false)
    net.down.delete('B')
    net.round()
    assert.equal(net.g('A').isLive('B', net.now), true)
  })

  it('removeNeighbour() forgets it at once', () => {
    const net = chain()
    net.rounds(3)
    net.g('A').removeNeighbour('B')
    assert.equal(net.g('A').isNeighbour('B'), false)
    assert.equal(net.g('A').best(net.now), undefined)
    assert.equal(net.g('A').receive('B', { sendProbe: 100, sysmetric: 100, seq: 1e9 }, net.now), false)
  })

  it('best() skips excluded neighbours (set or array) and breaks ties by insertion order', () => {
    const g = createGossip({ c: C, delayMs: DELAY })
    for (const id of ['X', 'Y', 'Z']) g.addNeighbour(id)
    g.receive('X', { sendProbe: 90, sysmetric: 10, seq: 1 }, 0)
    g.receive('Y', { sendProbe: 90, sysmetric: 10, seq: 1 }, 0)
    g.receive('Z', { sendProbe: 50, sysmetric: 50, seq: 1 }, 0)
    assert.equal(g.best(0)?.id, 'X')
    assert.equal(g.best(0, ['X'])?.id, 'Y')
    assert.equal(g.best(0, new Set(['X', 'Y']))?.id, 'Z')
    assert.equal(g.best(0, ['X', 'Y', 'Z']), undefined)
  })

  it('split horizon: the value sent to u leaves out what was learned from u', () => {
    const g = createGossip({ c: C, delayMs: DELAY, splitHorizon: true })
    g.addNeighbour('B')
    g.addNeighbour('C')
    g.receive('B', { sendProbe: 133, sysmetric: 60, seq: 1 }, 0)
    g.receive('C', { sendProbe: 80, sysmetric: 80, seq: 1 }, 0)
    const out = new Map(g.outgoing(37, 0).map(o => [o.to, o.msg.sendProbe]))
    assert.equal(out.get('B'), 65, 'B gets the best of the others: C at 80 − c')
    assert.equal(out.get('C'), 118, 'C gets B at 133 − c')
    const paper = createGossip({ c: C, delayMs: DELAY, splitHorizon: false })
    paper.addNeighbour('B')
    paper.receive('B', { sendProbe: 133, sysmetric: 60, seq: 1 }, 0)
    assert.equal(paper.outgoing(37, 0)[0].msg.sendProbe, 118, 'paper: B hears its own value back, minus c')
  })

  it('split horizon ends the ping-pong of a stale value after a drop', () => {
    const delaysToForget = (splitHorizon: boolean): number => {
      const net = new Rounds({ A: 37, B: 148 }, [['A', 'B']], { splitHorizon })
      net.rounds(4)
      net.metric.set('B', 20)
      for (let i = 1; i < 50; i++) {
        net.round()
        // A no longer wants to probe B once B's dismetric is below A's own.
        if ((net.g('A').best(net.now)?.dismetric ?? -Infinity) < 37) return i
      }
      return Infinity
    }
    const paper = delaysToForget(false)
    const split = delaysToForget(true)
    assert.equal(split, 1)
    assert.ok(paper > split, `paper ${paper} vs split ${split}`)
    assert.ok(Number.isFinite(paper), 'the echo dies out anyway: it loses c per hop')
  })

  it('rejects bad options', () => {
    assert.throws(() => createGossip({ delayMs: 0 }), RangeError)
    assert.throws(() => createGossip({ c: -1 }), RangeError)
    assert.throws(() => createGossip({ expiryFactor: NaN }), RangeError)
    assert.throws(() => createGossip({ minRelayCost: -1 }), RangeError)
    assert.deepEqual(createGossip().config, { c: DEFAULT_C, minRelayCost: 5, delayMs: 5000, expiryFactor: 3, splitHorizon: true })
  })

  it('c = 0 on a triangle: an old value of A dies out instead of circulating (passed-on values lose at least minRelayCost per hop)', () => {
    const triangle = (minRelayCost?: number): Rounds => new Rounds({ A: 153, B: 83, C: 48 }, [['A', 'B'], ['B', 'C'], ['A', 'C']], { c: 0, minRelayCost })
    for (const [minRelayCost, dies] of [[0, false], [undefined, true]] as const) {
      const net = triangle(minRelayCost)
      net.rounds(4)
      // A gets busy: 153 → 20
      net.metric.set('A', 20)
      // one hop per round here (triggered updates make a round milliseconds): 153 → 83 at 5 a hop
      net.rounds(20)
      const best = net.g('A').best(net.now)
      if (dies) {
        assert.deepEqual(best, { id: 'B', dismetric: 83 }, 'A sees B as it is: nothing better is left over from its own past')
        assert.equal(net.g('C').best(net.now)?.dismetric, 83)
      } else {
        assert.equal(best?.dismetric, 153, 'without a floor, A\'s 153 comes back to it round the triangle forever')
      }
    }
    // a node two hops away is still seen, minRelayCost lower (c = 0)
    const line = new Rounds({ A: 20, B: 30, C: 148 }, [['A', 'B'], ['B', 'C']], { c: 0 })
    line.rounds(4)
    assert.deepEqual(line.g('A').best(line.now), { id: 'B', dismetric: 148 - 5 })
  })
})

describe('balance: Algorithms II–III (probe)', () => {
  it('Algorithm II: run locally when own sysmetric is at least the best dismetric', () => {
    const net = new Rounds({ A: 133, B: 148 }, [['A', 'B']])
    net.rounds(2)
    assert.deepEqual(decideOrigin(net.g('A'), 'A', 133, net.now, { id: 'x' }), { kind: 'local', reason: 'local-is-best' })
    const d = decideOrigin(net.g('A'), 'A', 132, net.now, { id: 'x' })
    assert.equal(d.kind, 'probe')
    assert.deepEqual(d.kind === 'probe' && d, { kind: 'probe', to: 'B', probe: { id: 'x', origin: 'A', sender: 'A', path: ['A'], ttl: DEFAULT_TTL - 1, originSysmetric: 132 } })
    assert.throws(() => decideOrigin(net.g('A'), 'A', 1, net.now, { id: 'x', ttl: MAX_TTL + 1 }), RangeError)
  })

  it('Algorithm II forced (run --remote): the best neighbour even when here is better, with no value to beat; still local with no live neighbour', () => {
    const net = new Rounds({ A: 200, B: 148 }, [['A', 'B']])
    net.rounds(2)
    assert.deepEqual(decideOrigin(net.g('A'), 'A', 200, net.now, { id: 'x' }), { kind: 'local', reason: 'local-is-best' })
    assert.deepEqual(decideOrigin(net.g('A'), 'A', 200, net.now, { id: 'x', force: true }), { kind: 'probe', to: 'B', probe: { id: 'x', origin: 'A', sender: 'A', path: ['A'], ttl: DEFAULT_TTL - 1 } })
    const alone = new Rounds({ A: 10 }, [])
    assert.deepEqual(decideOrigin(alone.g('A'), 'A', 10, alone.now, { id: 'x', force: true }), { kind: 'local', reason: 'no-live-neighbour' })
  })

  for (const splitHorizon of [false, true]) {
    it(`transitivity on the chain: probe from A returns path [A, B, C], target C with 148 (split horizon ${splitHorizon ? 'on' : 'off'})`, () => {
      const net = chain({ splitHorizon })
      net.rounds(4)
      const result = net.probe('A')
      assert.deepEqual(result.hops, ['B', 'C'])
      assert.deepEqual(result.reply, { id: 'p1', target: 'C', sysmetric: 148, path: ['A', 'B', 'C'] })
      assert.equal(acceptReply(37, result.reply, C), 'remote')
    })

    it(`re-pin C to 20: no probe from A picks C; A ends up local or on B (split horizon ${splitHorizon ? 'on' : 'off'})`, () => {
      const net = chain({ splitHorizon })
      net.rounds(4)
      net.metric.set('C', 20)
      const outcomes: string[] = []
      for (let i = 0; i < 8; i++) {
        const r = net.probe('A')
        // C, no longer better than A, declines rather than spending a ticket on a reply A would refuse
        assert.ok(r.decline === undefined || r.decline === 'not-better-than-origin', r.decline)
        assert.ok(r.hops.length <= DEFAULT_TTL)
        const choice = r.reply == null ? 'local' : acceptReply(37, r.reply, C) === 'remote' ? r.reply.target : 'local'
        assert.notEqual(choice, 'C')
        outcomes.push(choice)
        net.round()
      }
      assert.equal(outcomes[0], 'local', 'first probe still reaches C, whose fresh 20 sends A home (Table III rows 8–9)')
      assert.equal(outcomes.at(-1), 'B', 'once the gossip settles, B (60) is chosen (Table III row 10)')
    })
  }

  it('propagate() validates the probe and declines with a reason', () => {
    const net = chain()
    net.rounds(4)
    const good: Probe = { id: 'p', origin: 'A', sender: 'A', path: ['A'], ttl: 7 }
    const at = (probe: any, from = 'A', node = 'B', opts?: PropagateOptions): PropagateDecision =>
      propagate(net.g(node), node, from, probe, net.m(node), net.now, always, opts)
    assert.equal(at(good).kind, 'forward')
    const cases: Array<[string, any, string?]> = [
      ['malformed', null],
      ['malformed', 'probe'],
      ['malformed', { ...good, id: '' }],
      ['malformed', { ...good, id: 'x'.repeat(1000) }],
      ['malformed', { ...good, origin: 7 }],
      ['malformed', { ...good, path: 'A' }],
      ['malformed', { ...good, path: [] }],
      ['malformed', { ...good, path: ['A', 5] }],
      ['malformed', { ...good, requirements: { minFreeMemKiB: -1 } }],
      ['malformed', { ...good, requirements: { arch: 42 } }],
      ['ttl-out-of-range', { ...good, ttl: -1 }],
      ['ttl-out-of-range', { ...good, ttl: 1.5 }],
      ['ttl-out-of-range', { ...good, ttl: NaN }],
      ['ttl-out-of-range', { ...good, ttl: 1e9 }],
      ['ttl-out-of-range', { ...good, ttl: MAX_TTL + 1 }],
      ['ttl-out-of-range', { ...good, ttl: MAX_TTL, path: ['X', 'Y', 'A'], origin: 'X' }],
      ['path-too-long', { ...good, ttl: 0, origin: 'n0', path: [...Array.from({ length: MAX_TTL + 1 }, (_, i) => `n${i}`), 'A'] }],
      ['forged-path', { ...good, path: ['X', 'A'] }], // does not start at origin
      ['forged-path', { ...good, path: ['A', 'X'] }], // does not end at sender
      ['forged-path', { ...good, origin: 'A', path: ['A', 'X', 'A'] }], // repeats a node
      ['sender-mismatch', { ...good, sender: 'C', path: ['A', 'C'] }],
      ['not-a-live-neighbour', { ...good, origin: 'Z', sender: 'Z', path: ['Z'] }, 'Z'],
      ['loop', { ...good, origin: 'C', sender: 'A', path: ['C', 'B', 'A'] }]
    ]
    for (const [reason, probe, from] of cases) {
      assert.deepEqual(at(probe, from), { kind: 'decline', reason }, `${reason}: ${JSON.stringify(probe)}`)
    }
    // The same checks stand on their own for the node's stream handler.
    assert.equal(validateProbe(good), undefined)
    assert.equal(validateProbe({ ...good, ttl: 3 }, 2), 'ttl-out-of-range')
    // A stricter local cap.
    assert.deepEqual(at({ ...good, ttl: 5 }, 'A', 'B', { maxTtl: 4 }), { kind: 'decline', reason: 'ttl-out-of-range' })
  })

  it('the TTL bounds the hops: on a rising chain the probe stops after TTL hops and the last node replies', () => {
    const metrics: Record<string, number> = {}
    const edges: Array<[string, string]> = []
    for (let i = 0; i < 20; i++) {
      metrics[`n${i}`] = 10 + 30 * i // every next node looks better, even after c per hop
      if (i > 0) edges.push([`n${i - 1}`, `n${i}`])
    }
    const net = new Rounds(metrics, edges)
    net.rounds(25)
    for (const ttl of [1, 3, DEFAULT_TTL]) {
      const r = net.probe('n0', { ttl })
      assert.equal(r.hops.length, ttl)
      assert.equal(r.reply?.target, `n${ttl}`)
      assert.equal(r.reply?.path.length, ttl + 1)
    }
    // TTL spent at a node that cannot run the job: declined, not forwarded.
    const r = net.probe('n0', { ttl: 2, meets: node => node !== 'n2' })
    assert.deepEqual(r, { decline: 'cannot-meet-requirements', hops: ['n1', 'n2'] })
  })

  it('requirements: a node that cannot meet them forwards instead of replying, or declines', () => {
    const net = new Rounds({ A: 30, B: 150, C: 100, D: 90 }, [['A', 'B'], ['B', 'C'], ['C', 'D']])
    net.rounds(5)
    const requirements = { arch: 'aarch64' }
    const meets = (node: string, r?: JobRequirements): boolean => r?.arch == null || node !== 'B'
    // B is the best but is x86: the probe goes on to C, which replies although it is worse than B.
    const r = net.probe('A', { requirements, meets })
    assert.deepEqual(r.reply?.path, ['A', 'B', 'C'])
    assert.equal(r.reply?.target, 'C')
    // Without requirements B answers.
    assert.equal(net.probe('A', { meets }).reply?.target, 'B')
    // Nobody beyond B and B cannot: declined.
    const net2 = new Rounds({ A: 30, B: 150 }, [['A', 'B']])
    net2.rounds(3)
    assert.deepEqual(net2.probe('A', { requirements, meets }), { decline: 'cannot-meet-requirements', hops: ['B'] })
    // The requirements travel with the probe.
    const first = decideOrigin(net.g('A'), 'A', 30, net.now, { id: 'q', requirements })
    assert.ok(first.kind === 'probe')
    let seen: JobRequirements | undefined
    const d = propagate(net.g('B'), 'B', 'A', first.probe, 150, net.now, req => { seen = req; return false })
    assert.deepEqual(seen, requirements)
    assert.ok(d.kind === 'forward')
    assert.deepEqual(d.probe.requirements, requirements)
  })

  it('no loops: with avoidPath (default) visited nodes are never chosen; the paper\'s rule sends probes back and they are declined as loops', () => {
    // Square A–B–C–D–A; after a drop at D the stale values point back and forth.
    const net = new Rounds({ A: 10, B: 20, C: 30, D: 200 }, [['A', 'B'], ['B', 'C'], ['C', 'D'], ['D', 'A']], { splitHorizon: false })
    net.rounds(6)
    net.metric.set('D', 5)
    let loops = 0
    for (let i = 0; i < 6; i++) {
      for (const origin of ['A', 'B', 'C']) {
        const safe = net.probe(origin)
        assert.notEqual(safe.decline, 'loop')
        if (safe.reply != null) assert.equal(new Set(safe.reply.path).size, safe.reply.path.length)
        const paper = net.probe(origin, { propagate: { avoidPath: false } })
        if (paper.decline === 'loop') loops++
        assert.ok(paper.hops.length <= DEFAULT_TTL)
      }
      net.round()
    }
    assert.ok(loops > 0, 'the paper rule does bounce probes back')
  })

  it('acceptReply(): migrate only if the target still beats local after c', () => {
    const reply = (sysmetric: number): ProbeReply => ({ id: 'p', target: 'C', sysmetric, path: ['A', 'B', 'C'] })
    assert.equal(acceptReply(37, reply(148), C), 'remote')
    assert.equal(acceptReply(37, reply(20), C), 'local')
    assert.equal(acceptReply(37, reply(52), C), 'local', '52 − c = 37 is not better')
    assert.equal(acceptReply(37, reply(60), C), 'remote')
    assert.equal(acceptReply(37, reply(60), 30), 'local', 'a larger c')
    assert.equal(acceptReply(37, reply(NaN), C), 'local')
    assert.equal(acceptReply(37, reply(Infinity), C), 'local')
    assert.equal(acceptReply(37, reply(MAX_METRIC * 10), C), 'local')
  })

  it('validateReply(): the reply must extend the path the probe was sent on', () => {
    const sent: Probe = { id: 'p', origin: 'A', sender: 'A', path: ['A'], ttl: 7 }
    const ok: ProbeReply = { id: 'p', target: 'C', sysmetric: 148, path: ['A', 'B', 'C'] }
    assert.equal(validateReply(ok, sent, 'B'), undefined)
    assert.equal(validateReply({ ...ok, id: 'q' }, sent, 'B'), 'wrong-probe')
    assert.equal(validateReply(ok, sent, 'X'), 'forged-path', 'came back through another neighbour')
    assert.equal(validateReply({ ...ok, path: ['X', 'B', 'C'] }, sent, 'B'), 'forged-path')
    assert.equal(validateReply({ ...ok, target: 'B' }, sent, 'B'), 'forged-path')
    assert.equal(validateReply({ ...ok, path: ['A'] }, sent, 'B'), 'forged-path')
    assert.equal(validateReply({ ...ok, path: ['A', 'B', 'A', 'C'] }, sent, 'B'), 'forged-path')
    assert.equal(validateReply({ ...ok, sysmetric: -1 }, sent, 'B'), 'malformed')
    assert.equal(validateReply({ ...ok, path: Array.from({ length: 40 }, (_, i) => i === 0 ? 'A' : `n${i}`) }, sent, 'B'), 'path-too-long')
    // A relay checks against the copy it forwarded.
    const relayed: Probe = { id: 'p', origin: 'A', sender: 'B', path: ['A', 'B'], ttl: 6 }
    assert.equal(validateReply(ok, relayed, 'C'), undefined)
  })
})

describe('relayReply: a relay offers itself when the reply it carries is worse (beyond the paper)', () => {
  // the probe as B received it from A
  const probe = { id: 'p', origin: 'A', sender: 'A', path: ['A'], ttl: 7 }
  const reply = { id: 'p', target: 'C', sysmetric: 20, path: ['A', 'B', 'C'] }
  it('B (60) replaces C\'s fresh 20; the path ends at B', () => {
    const offered = relayReply('B', 60, reply, probe, () => true, C)
    assert.deepEqual(offered, { id: 'p', target: 'B', sysmetric: 60, path: ['A', 'B'] })
  })
  it('keeps a better target, and never offers a node that cannot run the job', () => {
    assert.equal(relayReply('B', 60, { ...reply, sysmetric: 148 }, probe, () => true, C)?.target, 'C')
    assert.equal(relayReply('B', 60, reply, probe, () => false, C)?.target, 'C')
    assert.equal(relayReply('B', Number.NaN, reply, probe, () => true, C)?.target, 'C')
  })
  it('offers itself when the probe came back declined, but only if it beats the origin', () => {
    assert.equal(relayReply('B', 60, undefined, { ...probe, originSysmetric: 37 }, () => true, C)?.target, 'B')
    assert.equal(relayReply('B', 60, undefined, { ...probe, originSysmetric: 50 }, () => true, C), undefined)
    assert.equal(relayReply('B', 60, reply, { ...probe, originSysmetric: 50 }, () => true, C), reply)
  })
  it('a relay that offers itself asks the next node to beat it too: no ticket is spent on a reply it would replace', () => {
    const net = chain()
    net.rounds(4)
    // C's gossip still says 148, but C has just dropped to 50: B (60) would replace its reply
    net.metric.set('C', 50)
    const received: Probe = { id: 'p', origin: 'A', sender: 'A', path: ['A'], ttl: 7, originSysmetric: 37 }
    const at = (node: string, from: string, probe: Probe, opts: PropagateOptions, meets = always): PropagateDecision =>
      propagate(net.g(node), node, from, probe, net.m(node), net.now, meets, opts)
    const paper = at('B', 'A', received, {})
    assert.equal(paper.kind === 'forward' && paper.probe.originSysmetric, 37, 'a relay that only passes replies on keeps the origin\'s bar')
    const cannot = at('B', 'A', received, { relayOffers: true }, () => false)
    assert.equal(cannot.kind === 'forward' && cannot.probe.originSysmetric, 37, 'a relay that cannot run the job does not offer itself')
    const d = at('B', 'A', received, { relayOffers: true })
    assert.ok(d.kind === 'forward')
    assert.equal(d.probe.originSysmetric, 60 - C, 'raised to B − c')
    // C (50 − c = 35 < 45) declines without a ticket, and B offers itself on the way back
    assert.deepEqual(at('C', 'B', d.probe, { relayOffers: true }), { kind: 'decline', reason: 'not-better-than-origin' })
    assert.deepEqual(relayReply('B', 60, undefined, received, always, C), { id: 'p', target: 'B', sysmetric: 60, path: ['A', 'B'] })
    // a C that does beat B still answers, and B passes its reply on
    net.metric.set('C', 80)
    const r = at('C', 'B', d.probe, { relayOffers: true })
    assert.ok(r.kind === 'reply')
    assert.equal(relayReply('B', 60, r.reply, received, always, C), r.reply)
    // `run --remote` (no bar from the origin): the relay's own value becomes the bar
    const forced = at('B', 'A', { ...received, originSysmetric: undefined }, { relayOffers: true })
    assert.equal(forced.kind === 'forward' && forced.probe.originSysmetric, 60 - C)
  })

  it('acceptReply(asked): a reply that beats the value the probe asked for is taken though the origin\'s value rose meanwhile', () => {
    const reply: ProbeReply = { id: 'p', target: 'C', sysmetric: 55, path: ['A', 'C'] }
    assert.equal(acceptReply(50, reply, C), 'local', 'against the new value alone')
    assert.equal(acceptReply(50, reply, C, 37), 'remote', 'the target promised the job against 37')
    assert.equal(acceptReply(30, { ...reply, sysmetric: 50 }, C, 37), 'remote', 'an origin that got busier takes it all the more')
    assert.equal(acceptReply(50, { ...reply, sysmetric: 52 }, C, 37), 'local', '52 − c does not beat 37')
    assert.equal(acceptReply(50, reply, C, Number.NaN), 'local', 'a bad bar is ignored')
  })

  it('in the simulator, B takes the jobs at once after C is re-pinned', () => {
    const without = chainScenario(true, false)
    const withOffers = chainScenario(true, true)
    assert.equal(withOffers.repin.placedOnC, 0)
    assert.ok(withOffers.repin.delaysUntilB <= without.repin.delaysUntilB, `${withOffers.repin.delaysUntilB} vs ${without.repin.delaysUntilB}`)
  })
})
