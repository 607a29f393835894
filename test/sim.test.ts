import assert from 'node:assert/strict'
import { DEFAULT_TTL } from '../src/balance/index.js'
import { Simulator, buildTopology, chainScenario, defaultSimConfig, degree, runSimulation, sysmetricOf, Rng, OUTCOMES } from '../src/sim/index.js'
import type { Graph, SimConfig, SimStats } from '../src/sim/index.js'
import { EventQueue } from '../src/sim/queue.js'

function connected (g: Graph): boolean {
  const seen = new Uint8Array(g.n)
  const stack = [0]
  seen[0] = 1
  let count = 1
  while (stack.length > 0) {
    const u = stack.pop() as number
    for (let e = g.offsets[u]; e < g.offsets[u + 1]; e++) {
      const v = g.adj[e]
      if (seen[v] === 0) { seen[v] = 1; count++; stack.push(v) }
    }
  }
  return count === g.n
}

function simple (g: Graph): boolean {
  for (let u = 0; u < g.n; u++) {
    const row = Array.from(g.adj.subarray(g.offsets[u], g.offsets[u + 1]))
    if (row.includes(u) || new Set(row).size !== row.length) return false
    for (const v of row) {
      if (!Array.from(g.adj.subarray(g.offsets[v], g.offsets[v + 1])).includes(u)) return false
    }
  }
  return true
}

/** a small, busy overlay where placement matters */
function small (overrides: Partial<SimConfig> = {}): SimConfig {
  return defaultSimConfig({ topology: { kind: 'random-regular', n: 300, degree: 4 }, warmupPeriods: 10, measurePeriods: 60, kHopSamples: 200, ...overrides })
}

function decided (s: SimStats): number {
  return OUTCOMES.reduce((sum, o) => sum + s.outcomes[o], 0)
}

describe('sim: building blocks', () => {
  it('the synthetic sysmetric follows SPEC §4 (paper Table II scale)', () => {
    assert.equal(sysmetricOf(100, 1, 0, 1), 155, 'idle reference machine')
    assert.equal(Math.round(sysmetricOf(100, 1, 4, 1)), 43, 'four busy processes on one core')
    assert.equal(sysmetricOf(100, 2, 1, 1), 155, 'two cores, one busy')
    assert.ok(sysmetricOf(100, 1, 0, 0.5) < 155, 'short of memory')
  })

  it('the event queue pops in time order, ties in insertion order', () => {
    const q = new EventQueue()
    const rng = new Rng(3)
    const pushed: Array<[number, number]> = []
    for (let i = 0; i < 5000; i++) {
      const t = rng.int(100)
      q.push(t, 0, i, 0)
      pushed.push([t, i])
      if (i % 7 === 0) {
        // interleave pops: the earliest so far must come out
        pushed.sort((x, y) => x[0] - y[0] || x[1] - y[1])
        const slot = q.pop()
        const [t0, i0] = pushed.shift() as [number, number]
        assert.deepEqual([q.timeOf(slot), q.aOf(slot)], [t0, i0])
      }
    }
    pushed.sort((x, y) => x[0] - y[0] || x[1] - y[1])
    for (const [t, i] of pushed) {
      const slot = q.pop()
      assert.deepEqual([q.timeOf(slot), q.aOf(slot)], [t, i])
    }
    assert.equal(q.length, 0)
  })

  it('the random streams are reproducible from the seed', () => {
    const a = new Rng(42, 1)
    const b = new Rng(42, 1)
    const c = new Rng(42, 2)
    const xs = Array.from({ length: 10 }, () => a.u32())
    assert.deepEqual(Array.from({ length: 10 }, () => b.u32()), xs)
    assert.notDeepEqual(Array.from({ length: 10 }, () => c.u32()), xs)
    const r = new Rng(1)
    for (let i = 0; i < 1000; i++) {
      const x = r.next()
      assert.ok(x >= 0 && x < 1)
    }
  })

  it('overlays: chain, random regular and small world are simple, connected graphs of the requested shape', () => {
    const rng = new Rng(5)
    const chain = buildTopology({ kind: 'chain', n: 50 }, rng)
    assert.equal(chain.adj.length / 2, 49)
    assert.equal(degree(chain, 0), 1)
    assert.equal(degree(chain, 25), 2)
    for (const n of [10, 1000]) {
      const rr = buildTopology({ kind: 'random-regular', n, degree: 4 }, rng)
      assert.ok(simple(rr) && connected(rr))
      const full = Array.from({ length: n }, (_, u) => degree(rr, u)).filter(d => d === 4).length
      assert.ok(full >= 0.95 * n, `${full}/${n} nodes of degree 4`)
      const sw = buildTopology({ kind: 'small-world', n, k: 4, beta: 0.1 }, rng)
      assert.ok(simple(sw) && connected(sw))
      assert.ok(Math.abs(sw.adj.length / 2 - 2 * n) <= 0.02 * n + 2)
    }
    assert.equal(buildTopology({ kind: 'random-regular', n: 1, degree: 4 }, rng).adj.length, 0)
  })
})

describe('sim: chain A–B–C (37/60/148, c = 15) in the simulator', () => {
  for (const splitHorizon of [false, true]) {
    const mode = splitHorizon ? 'on' : 'off'
    it(`split horizon ${mode}: transitivity, re-pin of C to 20, kill of B`, () => {
      const r = chainScenario(splitHorizon)
      assert.equal(r.dismetricOfBAtA, 148 - 2 * 15)
      assert.equal(r.firstJob.outcome, 'remote')
      assert.deepEqual(r.firstJob.reply, { id: r.firstJob.reply?.id, target: 'C', sysmetric: 148, path: ['A', 'B', 'C'] })
      assert.equal(r.firstJob.runsOn, 'C')

      // Re-pin: the reply carries C's fresh 20, so no job ever lands on C (Table III rows 8–9) …
      assert.equal(r.repin.placedOnC, 0)
      for (const job of r.repin.jobs) assert.ok(job.runsOn === 'A' || job.runsOn === 'B', `job ran on ${job.runsOn}`)
      // … no probe loops or exceeds the TTL …
      assert.equal(r.repin.loops, 0)
      assert.ok(r.repin.maxHops <= DEFAULT_TTL)
      // … and within 5 delays every job goes to B (Table III row 10).
      assert.ok(r.repin.delaysUntilB <= 5, `took ${r.repin.delaysUntilB} delays`)
      assert.ok(r.repin.delaysUntilNoProbeToC <= 5)
      console.log(`      split horizon ${mode}: probes stop reaching C after ${r.repin.delaysUntilNoProbeToC} delays, jobs settle on B after ${r.repin.delaysUntilB} delays (${r.repin.probesToC} probes still reached C, none placed there); B dropped ${r.kill.delaysToDrop.toFixed(2)} delays after it died`)

      // Kill B: A drops it within 3 × delay; meanwhile probes time out, afterwards A runs locally.
      assert.ok(r.kill.delaysToDrop <= 3, `dropped after ${r.kill.delaysToDrop} delays`)
      assert.ok(r.kill.jobsWhileDropping.length > 0)
      for (const job of r.kill.jobsWhileDropping) assert.equal(job.outcome, 'timeout')
      assert.equal(r.kill.jobAfterDrop.outcome, 'local-alone')
    })
  }

  it('split horizon settles at least as fast as the paper\'s gossip', () => {
    const paper = chainScenario(false)
    const split = chainScenario(true)
    assert.ok(split.repin.delaysUntilB <= paper.repin.delaysUntilB)
    assert.ok(split.repin.probesToC < paper.repin.probesToC)
  })
})

describe('sim: experiments', () => {
  it('is deterministic for a seed', () => {
    const a = runSimulation(small({ seed: 11, measurePeriods: 20 }))
    const b = runSimulation(small({ seed: 11, measurePeriods: 20 }))
    const c = runSimulation(small({ seed: 12, measurePeriods: 20 }))
    assert.deepEqual(a, b)
    assert.notDeepEqual(a, c)
  })

  it('Kappa beats always-local and random placement, and stays below the oracle', () => {
    const kappa = runSimulation(small({ policy: 'kappa' }))
    const local = runSimulation(small({ policy: 'local' }))
    const random = runSimulation(small({ policy: 'random' }))
    const oracle = runSimulation(small({ policy: 'oracle' }))
    assert.ok(kappa.jobs > 500)
    assert.ok(kappa.qualityGlobal > local.qualityGlobal + 0.15, `kappa ${kappa.qualityGlobal} vs local ${local.qualityGlobal}`)
    assert.ok(kappa.meanChosen > local.meanChosen + 20)
    assert.ok(kappa.qualityGlobal > random.qualityGlobal)
    assert.ok(oracle.qualityGlobal >= kappa.qualityGlobal)
    assert.ok(kappa.qualityKHop > 0 && kappa.qualityKHop <= 1 + 1e-9)
    // Every job got an answer, and gossip costs about one message per link end per period.
    assert.equal(decided(kappa), kappa.jobs)
    assert.equal(kappa.started, kappa.jobs + kappa.lost)
    assert.ok(kappa.messagesPerNodePerPeriod > 3.5 && kappa.messagesPerNodePerPeriod < 6, `${kappa.messagesPerNodePerPeriod}`)
    assert.equal(local.messagesPerNodePerPeriod, 0)
  })

  it('probes never loop or exceed the TTL with path avoidance; the paper\'s rule loops but is caught', () => {
    for (const topology of [{ kind: 'random-regular', n: 300, degree: 4 }, { kind: 'small-world', n: 300, k: 4, beta: 0.1 }, { kind: 'chain', n: 100 }] as const) {
      for (const splitHorizon of [false, true]) {
        const s = runSimulation(small({ topology, splitHorizon }))
        assert.equal(s.outcomes.loop, 0, `${topology.kind} sh=${splitHorizon}`)
        assert.equal(s.ttlExceeded, 0)
        assert.ok(s.maxHops <= DEFAULT_TTL)
      }
    }
    const paper = runSimulation(small({ splitHorizon: false, avoidPath: false }))
    assert.ok(paper.outcomes.loop > 0, 'stale echoes send probes back where they came from')
    assert.equal(paper.ttlExceeded, 0)
    for (const ttl of [1, 2, 4]) {
      const s = runSimulation(small({ ttl, measurePeriods: 20 }))
      assert.ok(s.maxHops <= ttl && s.ttlExceeded === 0)
    }
  })

  it('job requirements are respected: no job lands on a machine of another architecture', () => {
    const s = runSimulation(small({ otherArchFraction: 0.3 }))
    assert.equal(s.requirementViolations, 0)
    assert.ok(s.outcomes.remote > 0)
    // The probe skips machines that cannot run it, so some requirements cost a decline or a worse target.
    const plain = runSimulation(small())
    assert.ok(s.qualityGlobal <= plain.qualityGlobal)
  })

  it('churn: probes into departed nodes time out and run locally; nothing is left undecided', () => {
    const calm = runSimulation(small({ churn: { ratePerNodePerPeriod: 0, downMeanPeriods: 5 } }))
    const churn = runSimulation(small({ churn: { ratePerNodePerPeriod: 0.02, downMeanPeriods: 5 } }))
    assert.equal(calm.outcomes.timeout, 0)
    assert.ok(churn.outcomes.timeout > 0)
    assert.equal(decided(churn), churn.jobs)
    assert.equal(churn.started, churn.jobs + churn.lost, 'every job is placed or lost with its origin')
    assert.equal(calm.started, calm.jobs)
    assert.ok(churn.qualityGlobal > runSimulation(small({ policy: 'local', churn: { ratePerNodePerPeriod: 0.02, downMeanPeriods: 5 } })).qualityGlobal)
  })

  it('scripted: a dead node stops routing, a revived one comes back with fresh state', () => {
    const sim = new Simulator(small({ jobs: { ratePerNodePerPeriod: 0, meanDurationPeriods: 1 }, churn: { ratePerNodePerPeriod: 0, downMeanPeriods: 1 } }))
    sim.runUntil(10 * 5000)
    const id = 'n0'
    const neighbour = sim.ids[sim.graph.adj[sim.graph.offsets[0]]]
    assert.equal(sim.gossipOf(neighbour)?.isLive(id, sim.now), true)
    sim.kill(id)
    assert.equal(sim.isUp(id), false)
    assert.equal(sim.gossipOf(id), undefined)
    sim.runUntil(sim.now + 3 * 5000 + 1)
    assert.equal(sim.gossipOf(neighbour)?.isLive(id, sim.now), false)
    sim.revive(id)
    sim.runUntil(sim.now + 2 * 5000)
    assert.equal(sim.gossipOf(neighbour)?.isLive(id, sim.now), true, 'fresh sequence numbers are accepted')
    assert.ok((sim.gossipOf(id)?.view(sim.now).length ?? 0) > 0)
  })
})
