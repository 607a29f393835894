/**
 * Prometheus metrics of a node (prom-client, one registry per node): the
 * metric and its inputs, the overlay's neighbours, peers, jobs by direction
 * and outcome with their durations and bytes, probe latency, build info and
 * the process's own metrics. Labels carry peer ids, never aliases (an alias
 * can change; `kappa_peer_info` maps one to the other).
 */
import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'
import { VERSION } from '../constants.js'
import type { JobRecord } from '../events.js'

export interface MetricsSnapshot {
  sysmetric: number | null
  sendProbe: number | null
  metric: { static: number, share: number, memFactor: number, pending: number } | null
  /** when the static score was measured (epoch ms) */
  benchmarkAt?: number | null
  neighbours: Array<{ id: string, alias: string | null, dismetric?: number | null, live?: boolean, connected?: boolean }>
  peers: { paired: number, connected: number, pending: number, lan: number }
}

export interface MetricsComponents {
  /** the node's state now (read at every scrape) */
  snapshot: () => MetricsSnapshot
  /** jobs running now */
  running: () => JobRecord[]
}

export interface NodeMetrics {
  readonly registry: Registry
  /** a finished job (from `job-ended`) */
  jobEnded (job: JobRecord): void
  /** one `overlay.probe` call: how long it took and what came of it */
  probe (ms: number, result: 'remote' | 'local' | 'failed'): void
  /** the exposition text */
  text (): Promise<string>
  readonly contentType: string
}

// prom-client's parts, not its index: the index also loads the push gateway (node:http and
// node:https, so TLS) and the cluster aggregator, which a node never uses (~70 ms of CPU at
// every start). Required, not imported: they are CommonJS (no export scan at load).
const require = createRequire(import.meta.url)
const Registry = require('prom-client/lib/registry') as typeof Prom.Registry
type Registry = Prom.Registry
const Counter = require('prom-client/lib/counter') as typeof Prom.Counter
const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge
const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram
const collectDefaultMetrics = require('prom-client/lib/defaultMetrics') as typeof Prom.collectDefaultMetrics

/** How often the event loop's delay is sampled for nodejs_eventloop_lag_* (ms). */
const EVENT_LOOP_SAMPLE_MS = 1000

const DIRECTIONS = ['in', 'out', 'local'] as const
const OUTCOMES = ['ok', 'failed', 'signal', 'lost', 'refused', 'fell-back'] as const
const KINDS = ['executable', 'workspace', 'stdio'] as const
const PATHS = ['stream', 'bulk'] as const

export function createNodeMetrics (components: MetricsComponents): NodeMetrics {
  const registry = new Registry()
  // prom-client samples the event loop's delay with a timer of this period: its default of 10 ms woke
  // every daemon 100 times a second, idle or not (its nodejs_eventloop_lag_* series are coarser now)
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  // sums of the per-type gauges beside them, but named like counters: `promtool check metrics` rejects them
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  new Gauge({ name: 'kappa_build_info', help: 'kappa-node version and Node.js version of this process (always 1).', labelNames: ['version', 'nodejs'], registers: [registry] })
    .set({ version: VERSION, nodejs: process.version }, 1)

  registerStateGauges(registry, components)
  const jobs = registerJobMetrics(registry)
  return {
    registry,
    contentType: registry.contentType,
    jobEnded: jobs.jobEnded,
    probe: jobs.probe,
    async text () {
      return await registry.metrics()
    }
  }
}

/** The node's state, read from `components` at every scrape: the metric, peers, neighbours, running jobs. */
function registerStateGauges (registry: Registry, components: MetricsComponents): void {
  const snap = (): MetricsSnapshot => components.snapshot()
  const single = (name: string, help: string, read: (s: MetricsSnapshot) => number | null | undefined): void => {
    // eslint-disable-next-line no-new
    new Gauge({
      name,
      help,
      registers: [registry],
      collect () {
        const v = read(snap())
        // unknown (not measured yet) is absent, not 0
        if (v != null && Number.isFinite(v)) this.set(v)
        else this.remove()
      }
    })
  }
  single('kappa_sysmetric', 'This node\'s system metric, bigger is faster (pinned or measured).', s => s.sysmetric)
  single('kappa_send_probe', 'The value this node gossips to its neighbours (Algorithm I send_probe).', s => s.sendProbe)
  single('kappa_static_score', 'Static score S from the CPU benchmark (reference machine 100).', s => s.metric?.static)
  single('kappa_cpu_share', 'CPU share a new process would get (0 to 1).', s => s.metric?.share)
  single('kappa_memory_factor', 'Memory factor m (1 unless memory is short).', s => s.metric?.memFactor)
  single('kappa_pending_jobs', 'Jobs promised or just started, counted in the metric.', s => s.metric?.pending)
  single('kappa_benchmark_timestamp_seconds', 'When the static score was measured (Unix time).', s => s.benchmarkAt == null ? undefined : s.benchmarkAt / 1000)
  single('kappa_paired_peers', 'Peers paired with this node.', s => s.peers.paired)
  single('kappa_connected_peers', 'Paired peers connected now.', s => s.peers.connected)
  single('kappa_pending_pair_requests', 'Pairing requests waiting for kappa-node accept.', s => s.peers.pending)
  single('kappa_lan_nodes', 'Unpaired kappa nodes seen on the LAN.', s => s.peers.lan)

  const perNeighbour = (name: string, help: string, read: (n: MetricsSnapshot['neighbours'][number]) => number | null | undefined): void => {
    // eslint-disable-next-line no-new
    new Gauge({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect () {
        this.reset()
        for (const n of snap().neighbours) {
          const v = read(n)
          if (v != null && Number.isFinite(v)) this.set({ peer: n.id }, v)
        }
      }
    })
  }
  perNeighbour('kappa_neighbour_dismetric', 'A neighbour\'s distribution metric as seen here (its value minus the hop cost).', n => n.dismetric)
  perNeighbour('kappa_neighbour_live', 'Whether a neighbour gossiped within 3 delays (1 or 0).', n => n.live === true ? 1 : 0)
  perNeighbour('kappa_neighbour_connected', 'Whether a neighbour is connected (1 or 0).', n => n.connected === true ? 1 : 0)
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'kappa_peer_info',
    help: 'A paired peer\'s local alias (always 1; join on peer).',
    labelNames: ['peer', 'alias'],
    registers: [registry],
    collect () {
      this.reset()
      for (const n of snap().neighbours) this.set({ peer: n.id, alias: n.alias ?? '' }, 1)
    }
  })

  // eslint-disable-next-line no-new
  new Gauge({
    name: 'kappa_jobs_running',
    help: 'Jobs running now: in (here, for other nodes), out (sent elsewhere), local (kept here).',
    labelNames: ['direction'],
    registers: [registry],
    collect () {
      const running = components.running()
      for (const d of DIRECTIONS) this.set({ direction: d }, running.filter(j => j.direction === d).length)
    }
  })
}

/** Finished jobs, their durations and bytes, and probe latency: counted as they happen. */
function registerJobMetrics (registry: Registry): Pick<NodeMetrics, 'jobEnded' | 'probe'> {
  const jobs = new Counter({ name: 'kappa_jobs_total', help: 'Finished jobs by direction (in, out, local) and outcome.', labelNames: ['direction', 'outcome'], registers: [registry] })
  const duration = new Histogram({
    name: 'kappa_job_duration_seconds',
    help: 'Wall time of finished jobs, by direction.',
    labelNames: ['direction'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry]
  })
  const sent = new Counter({ name: 'kappa_job_bytes_sent_total', help: 'Bytes this node sent for jobs, by kind (executable, workspace, stdio) and path (stream, bulk).', labelNames: ['kind', 'path'], registers: [registry] })
  const received = new Counter({ name: 'kappa_job_bytes_received_total', help: 'Bytes this node received for jobs, by kind (executable, workspace, stdio) and path (stream, bulk).', labelNames: ['kind', 'path'], registers: [registry] })
  const probes = new Histogram({
    name: 'kappa_probe_duration_seconds',
    help: 'Time to decide where a job runs (Algorithm II), by result: remote, local, failed.',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry]
  })
  // every series exists from the start, at zero: rate() and absent() work before the first job
  for (const d of DIRECTIONS) {
    for (const o of OUTCOMES) jobs.inc({ direction: d, outcome: o }, 0)
    duration.zero({ direction: d })
  }
  for (const k of KINDS) {
    for (const p of PATHS) {
      sent.inc({ kind: k, path: p }, 0)
      received.inc({ kind: k, path: p }, 0)
    }
  }
  for (const r of ['remote', 'local', 'failed']) probes.zero({ result: r })

  return {
    jobEnded (job) {
      jobs.inc({ direction: job.direction, outcome: job.outcome ?? 'lost' })
      if (job.durationMs != null) duration.observe({ direction: job.direction }, job.durationMs / 1000)
      const path = job.path ?? 'stream'
      for (const k of KINDS) {
        if (job.bytesSent[k] > 0) sent.inc({ kind: k, path }, job.bytesSent[k])
        if (job.bytesReceived[k] > 0) received.inc({ kind: k, path }, job.bytesReceived[k])
      }
    },
    probe (ms, result) {
      probes.observe({ result }, ms / 1000)
    }
  }
}
