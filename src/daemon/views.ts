/**
 * What the daemon shows of itself beyond `status`: the dashboard's state,
 * the snapshot /metrics reads, and the overlay as the daemon's components
 * see it (its probes timed for /metrics).
 */
import { VERSION, DASHBOARD_JOBS_SHOWN } from '../constants.js'
import type { DashboardState, MetricsSnapshot, NodeMetrics } from '../http/index.js'
import type { Jobs } from '../jobs/index.js'
import type { MetricSampler } from '../metric/index.js'
import type { Overlay } from '../overlay/index.js'
import type { PairRequestInfo } from '../pairing/index.js'
import type { NearbyPeer } from '../discovery/index.js'

export interface ViewSources {
  /** this node: its id, alias and listen addresses (what `kappa-node id` answers) */
  self: () => { id: string, alias: string | null, addrs: string[] }
  overlay: Overlay
  sampler: MetricSampler
  metricOverride: () => number | undefined
  /** the benchmark's progress while it runs */
  benchmarkProgress: () => { done: number, total: number } | null
  jobs: Jobs
  requests: () => PairRequestInfo[]
  lan: () => NearbyPeer[]
  paired: () => Array<{ id: string, alias?: string | null, addrs: string[], connected: boolean }>
}

export function dashboardState (v: ViewSources): DashboardState {
  const o = v.overlay.status()
  const m = v.sampler.current()
  const pinned = v.metricOverride() != null
  const paired = new Map(v.paired().map(p => [p.id, p]))
  const measuring = !pinned && v.sampler.benchmarking() && v.sampler.staticScore() == null
  return {
    now: Date.now(),
    node: {
      ...v.self(),
      version: VERSION,
      state: measuring ? 'benchmarking' : 'ready',
      benchmark: v.sampler.benchmarking() ? v.benchmarkProgress() : null,
      sysmetric: o.sysmetric,
      pinned,
      sendProbe: o.sendProbe,
      metric: m == null
        ? null
        : {
            static: m.static,
            share: m.share,
            memFactor: m.memFactor,
            dynamic: m.dynamic,
            cores: m.cores,
            running: m.running,
            pending: m.pending,
            memAvailableKiB: m.memAvailableKiB,
            memTotalKiB: m.memTotalKiB,
            measuredAt: Number.isNaN(Date.parse(m.benchmarkMeasuredAt)) ? null : Date.parse(m.benchmarkMeasuredAt),
            busyWhenMeasured: m.benchmarkBusy
          },
      gossip: { delayMs: o.delayMs, c: o.c, splitHorizon: o.splitHorizon }
    },
    neighbours: o.neighbours.map(n => ({
      id: n.id,
      alias: n.alias,
      addrs: n.addrs.length > 0 ? n.addrs : paired.get(n.id)?.addrs ?? [],
      connected: n.connected,
      live: n.live,
      advertised: n.advertised ?? null,
      dismetric: n.dismetric ?? null,
      lastSeenMs: n.lastSeenMs
    })),
    requests: v.requests().map(r => ({ id: r.id, alias: r.alias ?? null, addrs: r.addrs, receivedAt: r.receivedAt })),
    lan: v.lan().map(n => ({ id: n.id, addrs: n.addrs, lastSeenMs: n.lastSeenMs })),
    jobs: { running: v.jobs.running(), recent: v.jobs.recent(DASHBOARD_JOBS_SHOWN) }
  }
}

export function metricsSnapshot (v: ViewSources): MetricsSnapshot {
  const o = v.overlay.status()
  const m = v.sampler.current()
  const paired = v.paired()
  const measuredAt = v.sampler.staticScore()?.measuredAt
  return {
    sysmetric: o.sysmetric,
    sendProbe: o.sendProbe,
    metric: m == null ? null : { static: m.static, share: m.share, memFactor: m.memFactor, pending: m.pending },
    benchmarkAt: measuredAt == null ? null : Date.parse(measuredAt),
    neighbours: o.neighbours.map(n => ({ id: n.id, alias: n.alias, dismetric: n.dismetric, live: n.live, connected: n.connected })),
    peers: { paired: paired.length, connected: paired.filter(p => p.connected).length, pending: v.requests().length, lan: v.lan().length }
  }
}

/** The overlay with every probe timed into /metrics (the migration service and `kappa-node probe` both use it). */
export function timedOverlay (overlay: Overlay, metrics: Pick<NodeMetrics, 'probe'>): Overlay {
  return {
    start: async () => { await overlay.start() },
    stop: async () => { await overlay.stop() },
    status: () => overlay.status(),
    changed: () => { overlay.changed() },
    bestNeighbour: () => overlay.bestNeighbour(),
    answer: async (remote, request) => await overlay.answer(remote, request),
    probe: async (requirements, force, carrier) => {
      const started = performance.now()
      // the time the carrier takes to get its job ready is not the probe's
      let waited = 0
      const ready = carrier?.ready
      const timed = carrier == null || ready == null
        ? carrier
        : { ...carrier, ready: async () => { const t = performance.now(); try { await ready() } finally { waited += performance.now() - t } } }
      try {
        const outcome = await overlay.probe(requirements, force, timed)
        metrics.probe(performance.now() - started - waited, outcome.local ? 'local' : 'remote')
        return outcome
      } catch (err) {
        metrics.probe(performance.now() - started - waited, 'failed')
        throw err
      }
    }
  }
}
