import { Simulator, defaultSimConfig } from './simulator.js'
import type { JobRecord, SimConfig } from './simulator.js'

/** The paper's three-machine test (§V.B) with SPEC §4 numbers, scripted in the simulator. */
export interface ChainScenarioResult {
  splitHorizon: boolean
  delayMs: number
  /** B's distribution metric as A sees it, once the gossip has settled (148 − 2c) */
  dismetricOfBAtA: number
  /** a probe from A before the re-pin: expected remote to C, path [A, B, C], 148 */
  firstJob: JobRecord
  repin: {
    /** one job from A every delay/10 for 10 delays after C is re-pinned to 20 */
    jobs: JobRecord[]
    /** jobs that ended up on C (must be none: the reply carries C's fresh 20) */
    placedOnC: number
    /** jobs whose probe still went all the way to C */
    probesToC: number
    loops: number
    /** most hops any probe took */
    maxHops: number
    /** delays after the re-pin until every later probe ends at B and the job runs there (paper Table III row 10) */
    delaysUntilB: number
    /** delays after the re-pin until no later probe reaches C */
    delaysUntilNoProbeToC: number
  }
  kill: {
    /** delays after B stops until A drops it from routing (≤ expiry factor 3) */
    delaysToDrop: number
    /** jobs from A in that window: their probes are lost and time out (Table III row 1) */
    jobsWhileDropping: JobRecord[]
    /** a job from A once B is dropped: runs locally, no neighbour left */
    jobAfterDrop: JobRecord
  }
}

/**
 * Chain A–B–C with metrics pinned 37/60/148, c = 15. Gossip settles; A probes
 * and gets C. Then C is re-pinned to 20 and A keeps starting jobs; then B is
 * killed. The same steps as the network-level acceptance test, on simulated
 * time (delay 1 s, links 1–10 ms).
 */
/**
 * A simulator for a scripted scenario: nothing happens unless the script
 * does it (no background load, spikes, churn or random jobs), probes give up
 * after 400 ms, and the measuring window never ends on its own.
 */
export function scriptedSimConfig (overrides: Partial<SimConfig>): SimConfig {
  return defaultSimConfig({
    policy: 'kappa',
    deadlineMs: 400,
    load: { changeMeanPeriods: 0, spikeRatePerNodePerPeriod: 0, spikeMeanPeriods: 1 },
    churn: { ratePerNodePerPeriod: 0, downMeanPeriods: 1 },
    jobs: { ratePerNodePerPeriod: 0, meanDurationPeriods: 1 },
    warmupPeriods: 0,
    measurePeriods: 1000,
    kHopSamples: 0,
    ...overrides
  })
}

/** `relayOffers` off shows the gossip alone: with it, B answers in C's place as soon as C's reply comes back worse. */
export function chainScenario (splitHorizon: boolean, relayOffers = false): ChainScenarioResult {
  const delayMs = 1000
  const sim = new Simulator(scriptedSimConfig({
    seed: 7,
    topology: { kind: 'chain', n: 3 },
    ids: ['A', 'B', 'C'],
    pinned: [37, 60, 148],
    splitHorizon,
    relayOffers,
    delayMs,
    latencyMs: { min: 1, max: 10 }
  }))
  const delays = (t: number, since: number): number => (t - since) / delayMs

  sim.runUntil(6 * delayMs)
  const dismetricOfBAtA = sim.gossipOf('A')?.best(sim.now)?.dismetric ?? NaN
  const firstJob = sim.submitJob('A')
  sim.runUntil(sim.now + delayMs)

  // Re-pin C; keep starting jobs at A.
  const repinnedAt = sim.now
  sim.pin('C', 20)
  const jobs: JobRecord[] = []
  for (let k = 0; k < 100; k++) sim.at(repinnedAt + k * delayMs / 10, () => jobs.push(sim.submitJob('A')))
  sim.runUntil(repinnedAt + 11 * delayMs)
  const settledSince = (ok: (j: JobRecord) => boolean): number => {
    let i = jobs.length
    while (i > 0 && ok(jobs[i - 1])) i--
    return i === jobs.length ? Infinity : delays(jobs[i].startMs, repinnedAt)
  }
  const onB = (j: JobRecord): boolean => j.outcome === 'remote' && j.runsOn === 'B'
  // the probe went A → B → C, whether C replied or declined (no longer better than A)
  const reachedC = (j: JobRecord): boolean => j.reply?.target === 'C' || (j.reply == null && j.hops === 2)

  // Kill B; A must drop it within 3 delays.
  const killedAt = sim.now
  sim.kill('B')
  const jobsWhileDropping: JobRecord[] = []
  let droppedAt = Infinity
  for (let t = killedAt; t <= killedAt + 5 * delayMs; t += delayMs / 100) {
    sim.runUntil(t)
    if (sim.gossipOf('A')?.isLive('B', sim.now) !== true) { droppedAt = t; break }
    if (Math.round((t - killedAt) / (delayMs / 100)) % 50 === 0) jobsWhileDropping.push(sim.submitJob('A'))
  }
  const jobAfterDrop = sim.submitJob('A')
  sim.runUntil(sim.now + delayMs)

  return {
    splitHorizon,
    delayMs,
    dismetricOfBAtA,
    firstJob,
    repin: {
      jobs,
      placedOnC: jobs.filter(j => j.runsOn === 'C').length,
      probesToC: jobs.filter(reachedC).length,
      loops: jobs.filter(j => j.outcome === 'loop').length,
      maxHops: Math.max(0, ...jobs.map(j => j.hops)),
      delaysUntilB: settledSince(onB),
      delaysUntilNoProbeToC: settledSince(j => !reachedC(j))
    },
    kill: { delaysToDrop: delays(droppedAt, killedAt), jobsWhileDropping, jobAfterDrop }
  }
}
