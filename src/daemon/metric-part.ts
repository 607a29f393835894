/**
 * The daemon's metric: the sampler (benchmark once per boot, then /proc),
 * a pinned value, pending-work accounting (tickets and jobs about to start
 * count before a reading shows them) and re-measuring on the owner's word.
 */
import { homeFile } from '../home/index.js'
import { createMetricSampler, PENDING_TICKET_MS, type MetricSampler } from '../metric/index.js'
import { TicketBook } from '../tickets/index.js'
import { errorMessage } from '../errors.js'
import { METRIC_SETTLE_MS } from '../constants.js'
import { originExtraJobs } from '../balance/index.js'
import type { DaemonEvents } from '../events.js'
import type { RebenchAnswer } from '../control/index.js'

export interface MetricPartInit {
  home: string
  procRoot?: string
  metricOverride?: number
  pendingAccounting?: boolean
  /** a sample every this many ms (default the sampler's) */
  intervalMs?: number
  ticketTtlMs?: number
  onBenchmarkProgress?: (p: { done: number, total: number } | undefined) => void
}

export interface MetricPartComponents {
  events: DaemonEvents
  /** a new reading, a pin or a re-measurement: gossip it, republish the hint, refresh the dashboard */
  onChange: () => void
  /** before this node's value is read: count jobs wrapped commands claimed on the hint */
  beforeRead: () => void
}

export interface MetricPart {
  readonly sampler: MetricSampler
  readonly tickets: TicketBook
  /** this node's sysmetric now (pinned or the fresh reading) */
  own: () => number | undefined
  /**
   * this node's value as the origin of a job, weighed against its neighbours':
   * own() when it has room, with ORIGIN_YIELD_JOBS more jobs when it is saturated
   */
  asOrigin: () => number | undefined
  /** asOrigin() with k more jobs here (the placement hint) */
  ownWith: (k: number) => number | undefined
  pinned: () => number | undefined
  /** a number pins the advertised value; undefined measures again */
  pin: (value: number | undefined) => void
  /** a job (id) will start here by `startsBy`: count it until a reading shows it */
  countUntilSampled: (id: string, startsBy?: number) => void
  /** a job run here for another node ended (`id`: the ticket it came with): it counts no more, and the change is gossiped now */
  jobDone: (id: string | undefined) => void
  benchmarkProgress: () => { done: number, total: number } | null
  rebench: () => Promise<RebenchAnswer>
  /** start sampling (no-op while pinned or once started) */
  start: () => void
  stop: () => void
}

export function createMetricPart (components: MetricPartComponents, init: MetricPartInit): MetricPart {
  const { events } = components
  let metricOverride = init.metricOverride
  let benchmarkProgress: { done: number, total: number } | null = null
  const sampler = createMetricSampler({
    cacheFile: homeFile(init.home, 'benchmark'),
    procRoot: init.procRoot,
    intervalMs: init.intervalMs,
    log: (line) => { init.onBenchmarkProgress?.(undefined); events.emit({ type: 'info', message: line }) },
    onSample: () => { components.onChange() },
    // the benchmark is the one slow thing at start-up: say so once, the sampler logs the result
    onProgress: (p) => {
      if (p.done === 1) events.emit({ type: 'info', message: `metric: benchmarking the CPU (${p.total} kernel runs, a few seconds)…` })
      benchmarkProgress = { done: p.done, total: p.total }
      init.onBenchmarkProgress?.(benchmarkProgress)
      components.onChange()
    }
  })
  let started = false
  const start = (): void => {
    if (started || metricOverride != null) return
    started = true
    sampler.start().catch((err) => { events.emit({ type: 'warning', message: `metric: ${errorMessage(err).replace(/^metric: /, '')}` }) })
  }
  // pending-work accounting: an issued ticket counts as a running job until used, or until it
  // is clear that the origin dropped the offer. A job that may have started counts until a
  // reading of the runnable processes shows it (src/metric/pending.ts).
  const accounting = init.pendingAccounting !== false
  // `startsBy`: when the job has surely started; it counts at most METRIC_SETTLE_MS longer
  const countUntilSampled = (id: string, startsBy = Date.now()): void => {
    if (accounting) sampler.pending.add(id, Math.max(startsBy, Date.now()) + METRIC_SETTLE_MS, Date.now())
  }
  const tickets = new TicketBook({
    ttlMs: init.ticketTtlMs,
    onIssue: (t) => { if (accounting) sampler.pending.add(t.id, Math.min(t.expiresAt, Date.now() + PENDING_TICKET_MS)) },
    onSettle: (t, how) => { if (how === 'used') countUntilSampled(t.id); else sampler.pending.consume(t.id) }
  })

  /** The value with k more jobs here, and half a job more when this node is saturated (originExtraJobs). */
  const originWith = (k: number): number | undefined => {
    const b = sampler.fresh()
    if (b == null) return undefined
    const extra = k + originExtraJobs(b.busyNow)
    return extra === 0 ? b.sysmetric : sampler.whatIf(extra)
  }

  return {
    sampler,
    tickets,
    own: () => {
      components.beforeRead()
      return metricOverride ?? sampler.fresh()?.sysmetric
    },
    asOrigin: () => {
      components.beforeRead()
      return metricOverride ?? originWith(0)
    },
    ownWith: (k) => metricOverride ?? originWith(k),
    pinned: () => metricOverride,
    pin: (value) => {
      metricOverride = value
      if (value == null) start()
      components.onChange()
    },
    countUntilSampled,
    jobDone: (id) => {
      // a job whose start no reading saw (its rise hidden by another job's end) would count as
      // pending until it lapsed, up to METRIC_SETTLE_MS after it ended: a busy target looked a job busier
      if (id != null && accounting) sampler.pending.consume(id)
      if (metricOverride == null) sampler.readNow()
    },
    benchmarkProgress: () => benchmarkProgress,
    /** measure the CPU again now (the owner asked: SIGHUP, `metric --rebench`) and gossip the new value */
    rebench: async () => {
      if (metricOverride == null) start()
      events.emit({ type: 'info', message: 'metric: measuring the CPU again (asked by the owner)' })
      const s = await sampler.rebench()
      init.onBenchmarkProgress?.(undefined)
      benchmarkProgress = null
      components.onChange()
      return { static: s.score, measuredAt: s.measuredAt, busy: s.busy, othersBusy: s.othersBusy, kernels: s.kernels, durationMs: s.durationMs, metric: sampler.current() ?? null, pinned: metricOverride != null }
    },
    start,
    stop: () => { sampler.stop() }
  }
}
