import { createGossip, decideOrigin, propagate, acceptReply, relayReply, PAPER_C, DEFAULT_DELAY_MS, DEFAULT_EXPIRY_FACTOR, DEFAULT_PROBE_DEADLINE_MS, DEFAULT_TTL } from '../balance/index.js'
import type { Gossip, JobRequirements, MetricMessage, Probe, ProbeReply } from '../balance/index.js'
import { PENDING_TICKET_MS } from '../metric/constants.js'
import { createPendingWork, type PendingWorkTracker } from '../metric/pending.js'
import { sysmetricOf } from './load.js'
import { MaxTree } from './maxtree.js'
import { EventQueue } from './queue.js'
import { Rng, linkHash } from './rng.js'
import { buildTopology } from './topology.js'
import type { Graph, TopologySpec } from './topology.js'

/**
 * How a job finds its machine. `kappa` runs Algorithms I–III from
 * src/balance; the others are baselines that decide at once from true
 * current values (which flatters them: no gossip lag, no probe latency).
 * - `local`: always run where the job starts.
 * - `random`: migrate to a uniformly random neighbour, unconditionally.
 * - `p2c`: power of two choices: ask two random neighbours, take the better
 *   if it beats local by c (the same test as acceptReply).
 * - `oracle`: a central oracle that knows every node: the global best if it
 *   beats local by c.
 */
export type Policy = 'kappa' | 'local' | 'random' | 'p2c' | 'oracle'

/** How a job ended up. Everything but `remote` runs at the origin. */
export type Outcome =
  | 'remote' // migrated to the probe's target (or the baseline's choice)
  | 'local-best' // Algorithm II: own sysmetric at least the best dismetric
  | 'local-alone' // no live neighbour
  | 'local-reply' // the reply's fresh value was not better (Table III rows 8–9)
  | 'timeout' // no reply before the deadline (Table III row 1), or the chosen neighbour was down
  | 'loop' // a node found itself on the probe's path
  | 'declined' // any other decline (requirements, validation)

export const OUTCOMES: readonly Outcome[] = ['remote', 'local-best', 'local-alone', 'local-reply', 'timeout', 'loop', 'declined']

export interface SimConfig {
  seed: number
  topology: TopologySpec
  /** node ids, default 'n0', 'n1', … */
  ids?: string[]
  policy: Policy
  c: number
  delayMs: number
  expiryFactor: number
  splitHorizon: boolean
  /** probes skip nodes already on their path (false: the paper's rule, loops are caught and declined) */
  avoidPath: boolean
  ttl: number
  deadlineMs: number
  /** one-way latency of a link, fixed per link, uniform in [min, max] ms */
  latencyMs: { min: number, max: number }
  /** each gossip period is delay × (1 ± jitter); the first tick is at a random phase */
  tickJitter: number
  /** fixed sysmetric per node (like --metric-override); otherwise the SPEC §4 load model */
  pinned?: number[]
  load: {
    /** mean periods between ±1 changes of a node's background processes; 0: static */
    changeMeanPeriods: number
    /** sudden spikes of 2–4 processes per core, per node per period; 0: none */
    spikeRatePerNodePerPeriod: number
    spikeMeanPeriods: number
  }
  churn: {
    /** nodes leaving (silently: crash or unplug), per node per period */
    ratePerNodePerPeriod: number
    /** mean periods a node stays away before it rejoins with fresh state */
    downMeanPeriods: number
  }
  jobs: {
    /** jobs starting, per node per period */
    ratePerNodePerPeriod: number
    meanDurationPeriods: number
  }
  /** fraction of nodes of a second architecture; every job requires its origin's architecture */
  otherArchFraction: number
  /** a node that replied counts the job as running until it arrives or the ticket expires (SPEC §4) */
  pendingAccounting: boolean
  /** relays offer themselves on the way back when fresher and better (relayReply) */
  relayOffers: boolean
  /** an unused ticket counts as pending this long (the node's PENDING_TICKET_MS) */
  ticketMs: number
  warmupPeriods: number
  measurePeriods: number
  /** how many placements also get the best within TTL hops computed (a BFS each) */
  kHopSamples: number
}

export function defaultSimConfig (overrides: Partial<SimConfig> = {}): SimConfig {
  return {
    seed: 1,
    topology: { kind: 'random-regular', n: 1000, degree: 4 },
    policy: 'kappa',
    // the simulator reproduces the paper's setting (its figures in bench/results/sim.md use it)
    c: PAPER_C,
    delayMs: DEFAULT_DELAY_MS,
    expiryFactor: DEFAULT_EXPIRY_FACTOR,
    splitHorizon: true,
    avoidPath: true,
    ttl: DEFAULT_TTL,
    deadlineMs: DEFAULT_PROBE_DEADLINE_MS,
    latencyMs: { min: 1, max: 40 },
    tickJitter: 0.02,
    load: { changeMeanPeriods: 4, spikeRatePerNodePerPeriod: 0.01, spikeMeanPeriods: 3 },
    churn: { ratePerNodePerPeriod: 0.001, downMeanPeriods: 10 },
    jobs: { ratePerNodePerPeriod: 0.05, meanDurationPeriods: 10 },
    otherArchFraction: 0,
    pendingAccounting: true,
    relayOffers: true,
    ticketMs: PENDING_TICKET_MS,
    warmupPeriods: 12,
    measurePeriods: 20,
    kHopSamples: 500,
    ...overrides
  }
}

/** One job's story, as the origin saw it. */
export interface JobRecord {
  id: number
  origin: string
  startMs: number
  requirements?: JobRequirements
  /** set once decided */
  outcome?: Outcome
  decidedMs?: number
  /** where it runs */
  runsOn?: string
  /** the probe's reply, accepted or not */
  reply?: ProbeReply
  declineReason?: string
  /** probe hops taken (path length − 1 of the reply or decline) */
  hops: number
  /** sysmetric of the machine it runs on, at the decision */
  chosen?: number
  globalBest?: number
  kHopBest?: number
}

export interface SimStats {
  policy: Policy
  nodes: number
  edges: number
  measuredPeriods: number
  /** jobs started in the measured window */
  started: number
  /** of those, placed (the denominator of the fractions and means below) */
  jobs: number
  /** jobs started in the window whose origin went down before they were placed */
  lost: number
  outcomes: Record<Outcome, number>
  meanChosen: number
  meanGlobalBest: number
  /** mean of chosen / global best over jobs */
  qualityGlobal: number
  /** mean of chosen / best within TTL hops of the origin, over sampled jobs */
  qualityKHop: number
  kHopSampled: number
  probes: number
  meanHops: number
  maxHops: number
  /** probes that went further than the TTL (must stay 0) */
  ttlExceeded: number
  /** jobs placed on a node that does not meet their requirements (must stay 0) */
  requirementViolations: number
  messages: { gossip: number, probe: number, reply: number, decline: number }
  messagesPerNodePerPeriod: number
  events: number
}

const enum Ev {
  Tick,
  LoadChange,
  Spike,
  SpikeEnd,
  JobArrival,
  JobEnd,
  ProbeHop,
  Reply,
  Decline,
  Deadline,
  Churn,
  NodeUp,
  PendingExpire,
  Script
}

interface Job extends JobRecord {
  originIndex: number
  /** the origin's incarnation when the job started */
  originEpoch: number
  durationMs: number
  measured: boolean
  done: boolean
  /** the value its probe asked a target to beat (the origin's own when it sent it) */
  asked?: number
}

interface PendingToken { node: number, epoch: number, id: string, active: boolean }
/** `received`: the probe as each relay before the receiver got it (path[1], path[2], …), for relayReply */
interface InFlightProbe { job: Job, probe: Probe, received: Probe[] }
interface InFlightReply { job: Job, reply: ProbeReply, token?: PendingToken }
interface InFlightDecline { job: Job, reason: string, hops: number }

const ARCHES = ['x86_64', 'aarch64']

/**
 * Discrete-event simulation of a Kappa overlay. Every node runs the same
 * gossip and probe state machines as the real node (src/balance); the
 * simulator supplies the clock, the links and the load.
 */
export class Simulator {
  readonly config: SimConfig
  readonly graph: Graph
  readonly ids: string[]
  now = 0

  private readonly queue = new EventQueue()
  private readonly indexOf = new Map<string, number>()
  private readonly gossip: Array<Gossip | undefined>
  /** per directed link, indexed like graph.adj in the receiver's row: the gossip message on its way (see deliver) */
  private readonly inFlightArrival: Float64Array
  private readonly inFlightMsg: Array<MetricMessage | undefined>
  /** reverse[e] for e = u→v in u's row is the index of u in v's row */
  private readonly reverse: Int32Array
  private readonly up: Uint8Array
  private readonly epoch: Int32Array
  private readonly staticScore: Float64Array
  private readonly cores: Uint8Array
  private readonly memFactor: Float64Array
  private readonly background: Int32Array
  private readonly spike: Int32Array
  private readonly running: Int32Array
  /** per node, the daemon's own pending-work tracker (src/metric/pending.ts) on simulated time */
  private readonly pending: PendingWorkTracker[]
  private pendingIds = 0
  private readonly pinned: Float64Array
  private readonly arch: Uint8Array
  /** current true sysmetric of every up node (−∞ when down), for the global best */
  private readonly metrics: MaxTree
  private readonly bfsStamp: Int32Array
  private readonly bfsQueue: Int32Array
  private bfsRound = 0

  private readonly loadRng: Rng
  private readonly spikeRng: Rng
  private readonly churnRng: Rng
  private readonly jobRng: Rng
  private readonly policyRng: Rng
  private readonly phaseRng: Rng

  private readonly measureStart: number
  private readonly measureEnd: number
  private readonly kHopStride: number
  private nextJobId = 0
  private measuredDecided = 0
  private events = 0
  private readonly stats = {
    started: 0,
    jobs: 0,
    lost: 0,
    outcomes: Object.fromEntries(OUTCOMES.map(o => [o, 0])) as Record<Outcome, number>,
    chosen: 0,
    globalBest: 0,
    qualityGlobal: 0,
    qualityKHop: 0,
    kHopSampled: 0,
    probes: 0,
    hops: 0,
    hopsCounted: 0,
    maxHops: 0,
    ttlExceeded: 0,
    requirementViolations: 0,
    messages: { gossip: 0, probe: 0, reply: 0, decline: 0 }
  }

  constructor (config: SimConfig) {
    this.config = config
    const seed = config.seed
    this.graph = buildTopology(config.topology, new Rng(seed, 1))
    const n = this.graph.n
    // Internalised strings compare by pointer, which the gossip's neighbour scan relies on for speed.
    this.ids = (config.ids ?? Array.from({ length: n }, (_, i) => `n${i}`)).map(internalise)
    if (this.ids.length !== n) throw new RangeError(`${this.ids.length} ids for ${n} nodes`)
    this.ids.forEach((id, i) => this.indexOf.set(id, i))
    if (this.indexOf.size !== n) throw new RangeError('node ids must be unique')
    if (config.pinned != null && config.pinned.length !== n) throw new RangeError(`${config.pinned.length} pinned metrics for ${n} nodes`)

    this.gossip = new Array(n)
    this.inFlightArrival = new Float64Array(this.graph.adj.length).fill(-1)
    this.inFlightMsg = new Array(this.graph.adj.length)
    this.reverse = reverseEdges(this.graph)
    if (config.latencyMs.max >= config.delayMs * (1 - config.tickJitter) / 2) throw new RangeError('link latency must be well below the gossip period')
    this.up = new Uint8Array(n).fill(1)
    this.epoch = new Int32Array(n)
    this.staticScore = new Float64Array(n)
    this.cores = new Uint8Array(n)
    this.memFactor = new Float64Array(n)
    this.background = new Int32Array(n)
    this.spike = new Int32Array(n)
    this.running = new Int32Array(n)
    this.pending = Array.from({ length: n }, () => createPendingWork({ now: () => this.now }))
    this.pinned = new Float64Array(n).fill(NaN)
    this.arch = new Uint8Array(n)
    this.metrics = new MaxTree(n)
    this.bfsStamp = new Int32Array(n)
    this.bfsQueue = new Int32Array(n)

    // Machines: SPEC §4 scale. S uniform 60–200; 1, 2 or 4 cores; memory short on a few.
    const init = new Rng(seed, 2)
    for (let i = 0; i < n; i++) {
      this.staticScore[i] = init.range(60, 200)
      const r = init.next()
      this.cores[i] = r < 0.4 ? 1 : r < 0.8 ? 2 : 4
      this.memFactor[i] = init.chance(0.1) ? init.range(0.3, 1) : 1
      this.background[i] = init.int(3 * this.cores[i] + 1)
      this.arch[i] = init.chance(config.otherArchFraction) ? 1 : 0
      if (config.pinned != null) this.pinned[i] = config.pinned[i]
    }
    for (let i = 0; i < n; i++) this.refresh(i)

    this.loadRng = new Rng(seed, 3)
    this.spikeRng = new Rng(seed, 4)
    this.churnRng = new Rng(seed, 5)
    this.jobRng = new Rng(seed, 6)
    this.policyRng = new Rng(seed, 7)
    this.phaseRng = new Rng(seed, 8)

    const delay = config.delayMs
    this.measureStart = config.warmupPeriods * delay
    this.measureEnd = this.measureStart + config.measurePeriods * delay
    const expectedJobs = config.jobs.ratePerNodePerPeriod * n * config.measurePeriods
    this.kHopStride = Math.max(1, Math.floor(expectedJobs / Math.max(1, config.kHopSamples)))

    if (config.policy === 'kappa') {
      for (let i = 0; i < n; i++) this.startNode(i)
    }
    const load = config.load
    if (load.changeMeanPeriods > 0) this.queue.push(this.loadRng.exp(load.changeMeanPeriods * delay / n), Ev.LoadChange, 0, 0)
    if (load.spikeRatePerNodePerPeriod > 0) this.queue.push(this.spikeRng.exp(delay / (load.spikeRatePerNodePerPeriod * n)), Ev.Spike, 0, 0)
    if (config.churn.ratePerNodePerPeriod > 0) this.queue.push(this.churnRng.exp(delay / (config.churn.ratePerNodePerPeriod * n)), Ev.Churn, 0, 0)
    if (config.jobs.ratePerNodePerPeriod > 0) this.queue.push(this.jobRng.exp(delay / (config.jobs.ratePerNodePerPeriod * n)), Ev.JobArrival, 0, 0)
  }

  // ---------------------------------------------------------------- scripting

  index (id: string): number {
    const i = this.indexOf.get(id)
    if (i == null) throw new RangeError(`no node ${id}`)
    return i
  }

  /** the node's Algorithm I state (undefined while it is down or under a baseline policy) */
  gossipOf (id: string): Gossip | undefined {
    const i = this.index(id)
    this.drain(i)
    return this.gossip[i]
  }

  sysmetric (id: string): number {
    return this.sysmetricAt(this.index(id))
  }

  isUp (id: string): boolean {
    return this.up[this.index(id)] === 1
  }

  /** fix a node's sysmetric (like --metric-override); NaN returns it to the load model */
  pin (id: string, value: number): void {
    const i = this.index(id)
    this.pinned[i] = value
    this.refresh(i)
  }

  /** the node stops at once: no messages out, everything sent to it is lost */
  kill (id: string): void {
    this.stopNode(this.index(id))
  }

  /** the node comes back with fresh state (same id, same links) */
  revive (id: string): void {
    const i = this.index(id)
    if (this.up[i] === 1) return
    this.up[i] = 1
    this.refresh(i)
    if (this.config.policy === 'kappa') this.startNode(i)
  }

  /** run `fn` at simulated time `time` */
  at (time: number, fn: (sim: Simulator) => void): void {
    this.queue.push(time, Ev.Script, 0, 0, fn)
  }

  /** a job starts now at `origin`; the record fills in once it is placed */
  submitJob (origin: string, opts: { requirements?: JobRequirements, durationMs?: number } = {}): JobRecord {
    const o = this.index(origin)
    const job = this.newJob(o, opts.durationMs ?? this.config.jobs.meanDurationPeriods * this.config.delayMs, opts.requirements)
    this.dispatch(job)
    return job
  }

  runUntil (time: number): void {
    const q = this.queue
    while (q.length > 0 && q.peekTime() <= time) {
      const slot = q.pop()
      const now = q.timeOf(slot)
      const kind = q.kindOf(slot)
      const a = q.aOf(slot)
      const b = q.bOf(slot)
      const ref = q.takeRef(slot)
      this.now = now
      this.events++
      this.handle(kind, a, b, ref)
    }
    if (time > this.now) this.now = time
  }

  /** the configured experiment: warm-up, then the measured periods; jobs started in the window are all decided */
  run (onProgress?: (fraction: number) => void): SimStats {
    const end = this.measureEnd + this.config.deadlineMs + 1
    const steps = 20
    for (let s = 1; s <= steps; s++) {
      this.runUntil(end * s / steps)
      onProgress?.(s / steps)
    }
    return this.summary()
  }

  summary (): SimStats {
    const s = this.stats
    const n = this.graph.n
    const periods = this.config.measurePeriods
    const messages = s.messages.gossip + s.messages.probe + s.messages.reply + s.messages.decline
    return {
      policy: this.config.policy,
      nodes: n,
      edges: this.graph.adj.length / 2,
      measuredPeriods: periods,
      started: s.started,
      jobs: s.jobs,
      lost: s.lost,
      outcomes: { ...s.outcomes },
      meanChosen: s.jobs > 0 ? s.chosen / s.jobs : NaN,
      meanGlobalBest: s.jobs > 0 ? s.globalBest / s.jobs : NaN,
      qualityGlobal: s.jobs > 0 ? s.qualityGlobal / s.jobs : NaN,
      qualityKHop: s.kHopSampled > 0 ? s.qualityKHop / s.kHopSampled : NaN,
      kHopSampled: s.kHopSampled,
      probes: s.probes,
      meanHops: s.hopsCounted > 0 ? s.hops / s.hopsCounted : 0,
      maxHops: s.maxHops,
      ttlExceeded: s.ttlExceeded,
      requirementViolations: s.requirementViolations,
      messages: { ...s.messages },
      messagesPerNodePerPeriod: periods > 0 ? messages / (n * periods) : NaN,
      events: this.events
    }
  }

  // ---------------------------------------------------------------- model

  private sysmetricAt (i: number): number {
    const pinned = this.pinned[i]
    if (!Number.isNaN(pinned)) return pinned
    const runnable = this.background[i] + this.spike[i] + this.running[i] + this.pending[i].count(this.now)
    return sysmetricOf(this.staticScore[i], this.cores[i], runnable, this.memFactor[i])
  }

  private refresh (i: number): void {
    this.metrics.set(i, this.up[i] === 1 ? this.sysmetricAt(i) : -Infinity)
  }

  private latency (u: number, v: number): number {
    const { min, max } = this.config.latencyMs
    return min + linkHash(this.config.seed, u, v) % (max - min + 1)
  }

  private measuring (): boolean {
    return this.now >= this.measureStart && this.now < this.measureEnd
  }

  private startNode (i: number): void {
    const g = createGossip({ c: this.config.c, delayMs: this.config.delayMs, expiryFactor: this.config.expiryFactor, splitHorizon: this.config.splitHorizon })
    const { offsets, adj } = this.graph
    for (let e = offsets[i]; e < offsets[i + 1]; e++) g.addNeighbour(this.ids[adj[e]])
    this.gossip[i] = g
    this.queue.push(this.now + this.phaseRng.next() * this.config.delayMs, Ev.Tick, i, this.epoch[i])
  }

  private stopNode (i: number): void {
    if (this.up[i] === 0) return
    this.up[i] = 0
    this.epoch[i]++
    this.gossip[i] = undefined
    const { offsets } = this.graph
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      this.inFlightArrival[e] = -1
      this.inFlightMsg[e] = undefined
    }
    this.running[i] = 0
    this.pending[i] = createPendingWork({ now: () => this.now })
    this.refresh(i)
  }

  private newJob (origin: number, durationMs: number, requirements?: JobRequirements): Job {
    const id = this.nextJobId++
    const job: Job = {
      id,
      origin: this.ids[origin],
      originIndex: origin,
      originEpoch: this.epoch[origin],
      startMs: this.now,
      durationMs,
      measured: this.measuring(),
      done: false,
      hops: 0
    }
    if (requirements != null) job.requirements = requirements
    if (job.measured) this.stats.started++
    return job
  }

  private meets (i: number, r?: JobRequirements): boolean {
    return r?.arch == null || r.arch === ARCHES[this.arch[i]]
  }

  /**
   * Gossip messages do not go through the event queue. Each directed link
   * holds the message on its way; the receiver hands it to its gossip state
   * (with the arrival time as `now`) just before it next uses that state.
   * Only the receiver reads that state, and messages to different neighbours
   * touch different entries, so this is the same as one event per message.
   * Links are FIFO and much faster than the gossip period, so by the time the
   * next message is sent on a link the previous one has arrived: one slot per
   * link is enough. (Only a node that dies and restarts within one link
   * latency can send again sooner; its older message is then applied a few
   * milliseconds early.)
   */
  private deliver (e: number, from: number, to: number, arrival: number, msg: MetricMessage): void {
    if (this.up[to] === 0) return // lost
    const slot = this.reverse[e]
    const previous = this.inFlightMsg[slot]
    if (previous != null) (this.gossip[to] as Gossip).receive(this.ids[from], previous, this.inFlightArrival[slot])
    this.inFlightArrival[slot] = arrival
    this.inFlightMsg[slot] = msg
  }

  private drain (i: number): void {
    const g = this.gossip[i]
    if (g == null) return
    const { offsets, adj } = this.graph
    const arrival = this.inFlightArrival
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      const t = arrival[e]
      if (t < 0 || t > this.now) continue
      g.receive(this.ids[adj[e]], this.inFlightMsg[e] as MetricMessage, t)
      arrival[e] = -1
      this.inFlightMsg[e] = undefined
    }
  }

  private countMessage (kind: 'gossip' | 'probe' | 'reply' | 'decline', count = 1): void {
    if (this.measuring()) this.stats.messages[kind] += count
  }

  // ---------------------------------------------------------------- events

  private handle (kind: number, a: number, b: number, ref: unknown): void {
    const delay = this.config.delayMs
    const n = this.graph.n
    switch (kind) {
      case Ev.Tick: {
        if (this.up[a] === 0 || this.epoch[a] !== b) return
        const g = this.gossip[a] as Gossip
        this.drain(a)
        g.expire(this.now)
        const out = g.outgoing(this.sysmetricAt(a), this.now)
        // outgoing() lists neighbours in the order they were added, which is
        // the graph's; comparing the (shared) id strings is cheaper than a lookup.
        const first = this.graph.offsets[a]
        for (let k = 0; k < out.length; k++) {
          const v = this.graph.adj[first + k]
          if (this.ids[v] !== out[k].to) throw new Error(`gossip of ${this.ids[a]} lists ${out[k].to} out of order`)
          this.deliver(first + k, a, v, this.now + this.latency(a, v), out[k].msg)
        }
        this.countMessage('gossip', out.length)
        const jitter = this.config.tickJitter
        this.queue.push(this.now + delay * (1 + jitter * (2 * this.phaseRng.next() - 1)), Ev.Tick, a, b)
        return
      }
      case Ev.LoadChange: {
        const rng = this.loadRng
        const i = rng.int(n)
        const next = this.background[i] + (rng.chance(0.5) ? 1 : -1)
        this.background[i] = Math.max(0, Math.min(3 * this.cores[i], next))
        this.refresh(i)
        this.queue.push(this.now + rng.exp(this.config.load.changeMeanPeriods * delay / n), Ev.LoadChange, 0, 0)
        return
      }
      case Ev.Spike: {
        const rng = this.spikeRng
        const i = rng.int(n)
        const amount = this.cores[i] * (2 + rng.int(3))
        this.spike[i] += amount
        this.refresh(i)
        this.queue.push(this.now + rng.exp(this.config.load.spikeMeanPeriods * delay), Ev.SpikeEnd, i, amount)
        this.queue.push(this.now + rng.exp(delay / (this.config.load.spikeRatePerNodePerPeriod * n)), Ev.Spike, 0, 0)
        return
      }
      case Ev.SpikeEnd:
        this.spike[a] -= b
        this.refresh(a)
        return
      case Ev.Churn: {
        const rng = this.churnRng
        const i = rng.int(n)
        const downFor = rng.exp(this.config.churn.downMeanPeriods * delay)
        if (this.up[i] === 1) {
          this.stopNode(i)
          this.queue.push(this.now + downFor, Ev.NodeUp, i, 0)
        }
        this.queue.push(this.now + rng.exp(delay / (this.config.churn.ratePerNodePerPeriod * n)), Ev.Churn, 0, 0)
        return
      }
      case Ev.NodeUp:
        this.revive(this.ids[a])
        return
      case Ev.JobArrival: {
        const rng = this.jobRng
        const origin = rng.int(n)
        const duration = rng.exp(this.config.jobs.meanDurationPeriods * delay)
        // Arrivals stop with the measured window; jobs already started are still decided.
        const next = this.now + rng.exp(delay / (this.config.jobs.ratePerNodePerPeriod * n))
        if (next < this.measureEnd) this.queue.push(next, Ev.JobArrival, 0, 0)
        if (this.up[origin] === 0) return
        const requirements = this.config.otherArchFraction > 0 ? { arch: ARCHES[this.arch[origin]] } : undefined
        this.dispatch(this.newJob(origin, duration, requirements))
        return
      }
      case Ev.JobEnd:
        if (this.epoch[a] === b) {
          this.running[a]--
          this.refresh(a)
        }
        return
      case Ev.ProbeHop:
        this.onProbe(a, b, ref as InFlightProbe)
        return
      case Ev.Reply:
        this.onReply(ref as InFlightReply)
        return
      case Ev.Decline: {
        const { job, reason, hops } = ref as InFlightDecline
        if (job.done) return
        job.declineReason = reason
        this.probeEnded(job, hops)
        this.decide(job, reason === 'loop' ? 'loop' : 'declined', job.originIndex)
        return
      }
      case Ev.Deadline: {
        const job = ref as Job
        if (!job.done) this.decide(job, 'timeout', job.originIndex)
        return
      }
      case Ev.PendingExpire: {
        const token = ref as PendingToken
        this.releasePending(token)
        return
      }
      case Ev.Script:
        (ref as (sim: Simulator) => void)(this)
    }
  }

  // ---------------------------------------------------------------- policies

  private dispatch (job: Job): void {
    const o = job.originIndex
    const own = this.sysmetricAt(o)
    const { offsets, adj } = this.graph
    const deg = offsets[o + 1] - offsets[o]
    switch (this.config.policy) {
      case 'local':
        this.decide(job, 'local-best', o)
        return
      case 'random': {
        if (deg === 0) { this.decide(job, 'local-alone', o); return }
        const v = adj[offsets[o] + this.policyRng.int(deg)]
        this.decide(job, this.up[v] === 1 ? 'remote' : 'timeout', this.up[v] === 1 ? v : o)
        return
      }
      case 'p2c': {
        if (deg === 0) { this.decide(job, 'local-alone', o); return }
        const first = this.policyRng.int(deg)
        let second = deg > 1 ? this.policyRng.int(deg - 1) : first
        if (deg > 1 && second >= first) second++
        let best = -1
        for (const k of deg > 1 ? [first, second] : [first]) {
          const v = adj[offsets[o] + k]
          this.countMessage('probe')
          if (this.up[v] === 0) continue
          this.countMessage('reply')
          if (best < 0 || this.sysmetricAt(v) > this.sysmetricAt(best)) best = v
        }
        if (best < 0) { this.decide(job, 'timeout', o); return }
        const reply: ProbeReply = { id: String(job.id), target: this.ids[best], sysmetric: this.sysmetricAt(best), path: [job.origin, this.ids[best]] }
        if (acceptReply(own, reply, this.config.c) === 'remote') this.decide(job, 'remote', best)
        else this.decide(job, 'local-reply', o)
        return
      }
      case 'oracle': {
        const best = this.metrics.argmax()
        const reply: ProbeReply = { id: String(job.id), target: this.ids[best], sysmetric: this.metrics.max(), path: [job.origin, this.ids[best]] }
        if (best !== o && acceptReply(own, reply, this.config.c) === 'remote') this.decide(job, 'remote', best)
        else this.decide(job, 'local-best', o)
        return
      }
      case 'kappa': {
        const g = this.gossip[o] as Gossip
        this.drain(o)
        const d = decideOrigin(g, job.origin, own, this.now, { id: String(job.id), ttl: this.config.ttl, requirements: job.requirements })
        if (d.kind === 'local') {
          this.decide(job, d.reason === 'no-live-neighbour' ? 'local-alone' : 'local-best', o)
          return
        }
        if (job.measured) this.stats.probes++
        const to = this.index(d.to)
        this.countMessage('probe')
        job.asked = d.probe.originSysmetric
        this.queue.push(this.now + this.latency(o, to), Ev.ProbeHop, to, o, { job, probe: d.probe, received: [] } satisfies InFlightProbe)
        this.queue.push(this.now + this.config.deadlineMs, Ev.Deadline, o, 0, job)
      }
    }
  }

  /** Algorithm III at node k, from neighbour j. */
  private onProbe (k: number, j: number, { job, probe, received }: InFlightProbe): void {
    if (this.up[k] === 0) return // lost; the origin's deadline runs out
    const g = this.gossip[k] as Gossip
    this.drain(k)
    const d = propagate(g, this.ids[k], this.ids[j], probe, this.sysmetricAt(k), this.now, r => this.meets(k, r), { avoidPath: this.config.avoidPath, relayOffers: this.config.relayOffers })
    switch (d.kind) {
      case 'forward': {
        const to = this.index(d.to)
        this.countMessage('probe')
        this.queue.push(this.now + this.latency(k, to), Ev.ProbeHop, to, k, { job, probe: d.probe, received: [...received, probe] } satisfies InFlightProbe)
        return
      }
      case 'reply': {
        let reply = d.reply
        let token = this.issuePending(k)
        // on the way back each relay may offer itself, as the node does (relayReply)
        if (this.config.relayOffers) {
          for (let i = reply.path.length - 2; i >= 1; i--) {
            const r = this.indexOf.get(reply.path[i])
            if (r == null || this.up[r] === 0) break
            const offered = relayReply(this.ids[r], this.sysmetricAt(r), reply, received[i - 1], req => this.meets(r, req), this.config.c) ?? reply
            if (offered.target !== reply.target) {
              reply = offered
              token = this.issuePending(r) // the target's unused ticket expires on its own
            }
          }
        }
        const path = reply.path
        const back = this.returnTrip(path, path.length - 1)
        this.countMessage('reply', path.length - 1)
        if (back < 0) return // a relay is down: the reply is lost
        this.queue.push(this.now + back, Ev.Reply, job.originIndex, 0, { job, reply, token } satisfies InFlightReply)
        return
      }
      case 'decline': {
        // The decline travels back along the path the probe came by; a relay on the way may offer itself.
        const path = Array.isArray(probe.path) ? [...probe.path, this.ids[k]] : [this.ids[j], this.ids[k]]
        if (this.config.relayOffers && Array.isArray(probe.path)) {
          for (let i = path.length - 2; i >= 1; i--) {
            const r = this.indexOf.get(path[i])
            if (r == null || this.up[r] === 0) break
            const offered = relayReply(this.ids[r], this.sysmetricAt(r), undefined, received[i - 1], req => this.meets(r, req), this.config.c)
            if (offered != null) {
              const token = this.issuePending(r)
              const back = this.returnTrip(offered.path, offered.path.length - 1)
              this.countMessage('reply', offered.path.length - 1)
              if (back < 0) return
              this.queue.push(this.now + back, Ev.Reply, job.originIndex, 0, { job, reply: offered, token } satisfies InFlightReply)
              return
            }
          }
        }
        const back = this.returnTrip(path, path.length - 1)
        this.countMessage('decline', path.length - 1)
        if (back < 0) return
        this.queue.push(this.now + back, Ev.Decline, job.originIndex, 0, { job, reason: d.reason, hops: path.length - 1 } satisfies InFlightDecline)
      }
    }
  }

  /** latency from path[from] back to path[0] hop by hop, or −1 if a relay on the way is down */
  private returnTrip (path: readonly string[], from: number): number {
    let total = 0
    for (let i = from; i > 0; i--) {
      const v = this.indexOf.get(path[i - 1])
      const u = this.indexOf.get(path[i])
      if (u == null || v == null) return -1
      if (i - 1 > 0 && this.up[v] === 0) return -1
      total += this.latency(u, v)
    }
    return total
  }

  private onReply ({ job, reply, token }: InFlightReply): void {
    if (job.done) return // too late: the origin ran it locally; the ticket expires on its own
    const o = job.originIndex
    job.reply = reply
    this.probeEnded(job, reply.path.length - 1)
    if (acceptReply(this.sysmetricAt(o), reply, this.config.c, job.asked) === 'remote') {
      // The job arrives: its pending count turns into a running process.
      if (token != null) this.releasePending(token)
      this.decide(job, 'remote', this.index(reply.target))
    } else {
      this.decide(job, 'local-reply', o)
    }
  }

  private probeEnded (job: Job, hops: number): void {
    job.hops = hops
    if (!job.measured) return
    const s = this.stats
    s.hops += hops
    s.hopsCounted++
    if (hops > s.maxHops) s.maxHops = hops
    if (hops > this.config.ttl) s.ttlExceeded++
  }

  /** A ticket issued by node k: with pending-work accounting it counts as a running job until used or expired. */
  private issuePending (k: number): PendingToken | undefined {
    if (!this.config.pendingAccounting) return undefined
    const token = { node: k, epoch: this.epoch[k], id: `t${++this.pendingIds}`, active: true }
    // as the daemon's TicketBook.onIssue does: counted until used, or until the ticket lapses
    this.pending[k].add(token.id, this.now + this.config.ticketMs)
    this.refresh(k)
    this.queue.push(this.now + this.config.ticketMs, Ev.PendingExpire, k, 0, token)
    return token
  }

  private releasePending (token: PendingToken): void {
    if (!token.active) return
    token.active = false
    if (this.epoch[token.node] !== token.epoch) return
    // the job arrived: the simulator sees it running at once (a perfect reading), so it stops counting here
    this.pending[token.node].consume(token.id)
    this.refresh(token.node)
  }

  /** The job starts on node `runsOn`; measure the placement, then add its load. */
  private decide (job: Job, outcome: Outcome, runsOn: number): void {
    job.done = true
    if (this.epoch[job.originIndex] !== job.originEpoch) {
      // The machine the job started on went down meanwhile: nothing left to place.
      if (job.measured) this.stats.lost++
      return
    }
    job.outcome = outcome
    job.decidedMs = this.now
    job.runsOn = this.ids[runsOn]
    const chosen = this.sysmetricAt(runsOn)
    const globalBest = this.metrics.max()
    job.chosen = chosen
    job.globalBest = globalBest
    if (job.measured) {
      const s = this.stats
      s.jobs++
      s.outcomes[outcome]++
      s.chosen += chosen
      s.globalBest += globalBest
      s.qualityGlobal += globalBest > 0 ? chosen / globalBest : 1
      if (!this.meets(runsOn, job.requirements)) s.requirementViolations++
      if (s.kHopSampled < this.config.kHopSamples && this.measuredDecided++ % this.kHopStride === 0) {
        const local = this.kHopBest(job.originIndex, this.config.ttl)
        job.kHopBest = local
        s.kHopSampled++
        s.qualityKHop += local > 0 ? chosen / local : 1
      }
    }
    if (this.up[runsOn] === 1) {
      this.running[runsOn]++
      this.refresh(runsOn)
      this.queue.push(this.now + job.durationMs, Ev.JobEnd, runsOn, this.epoch[runsOn])
    }
  }

  /** best current sysmetric within k hops of `origin` over live nodes (breadth-first) */
  private kHopBest (origin: number, k: number): number {
    const { offsets, adj } = this.graph
    const stamp = ++this.bfsRound
    const seen = this.bfsStamp
    const queue = this.bfsQueue
    let head = 0
    let tail = 0
    queue[tail++] = origin
    seen[origin] = stamp
    let best = this.metrics.get(origin)
    for (let depth = 0; depth < k && head < tail; depth++) {
      const levelEnd = tail
      while (head < levelEnd) {
        const u = queue[head++]
        for (let e = offsets[u]; e < offsets[u + 1]; e++) {
          const v = adj[e]
          if (seen[v] === stamp || this.up[v] === 0) continue
          seen[v] = stamp
          queue[tail++] = v
          const m = this.metrics.get(v)
          if (m > best) best = m
        }
      }
    }
    return best
  }
}

function reverseEdges (g: Graph): Int32Array {
  const { n, offsets, adj } = g
  const reverse = new Int32Array(adj.length)
  for (let u = 0; u < n; u++) {
    for (let e = offsets[u]; e < offsets[u + 1]; e++) {
      // find u in v's row; rows are short
      let f = offsets[adj[e]]
      while (adj[f] !== u) f++
      reverse[e] = f
    }
  }
  return reverse
}

/** the engine's unique copy of a string (property names are interned), so `===` is a pointer test */
function internalise (s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s
}
