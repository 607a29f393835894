/**
 * System metric (SPEC §4, paper §IV.A): how fast this machine would finish a
 * new process, bigger is faster.
 *
 *   S          static score: four CPU kernels vs reference times, ×100
 *   share      CPU share a new process would get, from /proc/stat deltas
 *   m          memory factor, from /proc/meminfo (counts only when short)
 *   D          = 400 · share · m
 *   sysmetric  = (0.3·S + 0.7·D) / 2      (idle reference machine ≈ 155)
 *
 * The daemon creates one sampler (`createMetricSampler`), starts it, reads
 * `current()` when it gossips, and calls `pending.add/consume` when it issues
 * or redeems a migration ticket. The pure formulas are exported for the
 * simulator and the tests.
 */
import type { KernelName } from './constants.js'

export type { KernelName } from './constants.js'

export interface KernelResult {
  name: KernelName
  /** Best of the timed repetitions, ms. */
  ms: number
  /** Reference time (the reference machine's median), ms. */
  refMs: number
  /** refMs / ms: > 1 when this machine is faster than the reference. */
  ratio: number
  /** The timed repetitions, ms. */
  reps: number[]
}

/** What the benchmark cache is keyed by: any change re-runs the benchmark. */
export interface BenchmarkKey {
  /** /proc/sys/kernel/random/boot_id (the paper benchmarks at boot). */
  bootId: string
  /** From /proc/cpuinfo. */
  cpuModel: string
  /** process.version: the kernels' speed depends on the JIT. */
  node: string
}

export interface StaticScore {
  /** S = 100 · mean(ratio). */
  score: number
  kernels: KernelResult[]
  /** Loaded from the cache: no kernel ran. */
  cached: boolean
  key: BenchmarkKey
  /** When the kernels ran (ISO 8601). */
  measuredAt: string
  /** Kernel invocations made to produce this value, warm-up included: 0 when cached. */
  kernelsRun: number
  /** Wall time of the benchmark run that measured it, ms. */
  durationMs: number
  /** Share of the CPUs other programs used while it ran (0 to 1). */
  othersBusy: number
  /** Taken on a busy machine (othersBusy over BENCHMARK_BUSY_SHARE): the daemon measures again when idle. */
  busy: boolean
  /** What the kernel times measure (see Measurement.clock). */
  clock: 'on-cpu' | 'wall'
}

/** Benchmark options of one call. */
export interface BenchmarkRequest {
  /** ignore the cache: measure now (`metric --rebench`, SIGHUP, a busy first run) */
  fresh?: boolean
}

export interface MetricBreakdown {
  /** S. */
  static: number
  kernels: KernelResult[]
  benchmarkCached: boolean
  /** When S was measured (ISO 8601). */
  benchmarkMeasuredAt: string
  /** S was measured on a busy machine (it will be measured again when the machine is idle). */
  benchmarkBusy: boolean
  /** C: CPUs counted (those this process may run on). */
  cores: number
  /** Their numbers. */
  cpus: number[]
  fIdle: number
  fBusy: number
  /** Jiffy deltas over the window, summed over the counted CPUs. */
  idleJiffies: number
  busyJiffies: number
  /** procs_running averaged over the window's readings; includes the sampler. */
  procsRunning: number
  /** n = procsRunning − 1 (the sampler) + pending. */
  running: number
  /** Jobs promised by migration tickets that have not started yet. */
  pending: number
  share: number
  /**
   * The busy fraction the share was computed with, pending work aside: the
   * window's (of the CPUs, or of the cgroup quota), raised by the processes
   * running now. 1: a new process would wait for the CPU.
   */
  busyNow: number
  memAvailableKiB: number
  memTotalKiB: number
  memThreshold: number
  /** m. */
  memFactor: number
  /** D. */
  dynamic: number
  sysmetric: number
  /** The window the CPU fractions were measured over, ms. */
  windowMs: number
  /** When /proc was read (epoch ms). */
  sampledAt: number
  /** The cgroup CPU quota this process runs under (Docker `cpus:`, the namespace cluster), or null. */
  cgroup: { version: 1 | 2, quotaCores: number, fBusy: number, runnable: number } | null
}

export interface PendingWork {
  /**
   * Job `id` was promised (a ticket issued, a local run): count it as a
   * runnable process until consumed or `expiresAt` (epoch ms). With
   * `startedAt`, the job may be running from then on: it stops counting
   * here as soon as a reading of the runnable processes has risen for it
   * (see pending.ts). Adding an id again replaces its times.
   */
  add (id: string, expiresAt: number, startedAt?: number): void
  /** The job started (or was refused): stop counting it. Unknown ids are ignored. */
  consume (id: string): void
  /** Jobs still pending (at `now`, default the clock's now). */
  count (now?: number): number
}

export interface MetricSamplerInit {
  /** Default /proc. */
  procRoot?: string
  /** Where cgroup hierarchies are mounted, default /sys/fs/cgroup. */
  cgroupRoot?: string
  /** Where the static score is cached ($KAPPA_HOME/benchmark.json). */
  cacheFile: string
  /** /proc/stat delta window, default 5000 ms. */
  windowMs?: number
  /** Sampling period of start(), default 5000 ms. */
  intervalMs?: number
  /** Memory threshold of m, default 0.10. */
  memThreshold?: number
  /** CPUs to count; default those this process may run on (Cpus_allowed_list), else all. */
  cpus?: number[]
  onProgress?: (p: { kernel: string, done: number, total: number }) => void
  /** One line per event (errors once, recovery, benchmark summary). Default: stderr. */
  log?: (line: string) => void
  /** Injectable for tests; default: cached benchmark, run in a worker on a miss. */
  benchmark?: (request?: BenchmarkRequest) => Promise<StaticScore>
  /** Clock, epoch ms. */
  now?: () => number
  /** Waits while the first window elapses; injectable so tests can swap fixture files. */
  sleep?: (ms: number) => Promise<void>
  /** Called with every new breakdown (a sample, or pending work changing). */
  onSample?: (b: MetricBreakdown) => void
}

export interface MetricSampler {
  /** Load or run the benchmark (with progress), take a first sample, then sample every intervalMs. */
  start (): Promise<void>
  stop (): void
  /** The last good value. */
  current (): MetricBreakdown | undefined
  /**
   * The last sample with the runnable processes of this moment (read at most
   * every 100 ms): what placement decisions use, so a job that started a
   * moment ago already counts, once.
   */
  fresh (): MetricBreakdown | undefined
  /**
   * fresh(), reading the runnable processes now whenever it was last read:
   * a job run here just ended, and neighbours should hear so now, not after
   * the next reading something else asks for.
   */
  readNow (): MetricBreakdown | undefined
  /** Sample now (delta since the reading closest to windowMs ago; the first sample waits one window). */
  sample (): Promise<MetricBreakdown>
  /** The static score in use, once known. */
  staticScore (): StaticScore | undefined
  /**
   * The sysmetric fresh() would give with `extraJobs` more jobs started here
   * (counted as pending work is); undefined until a first sample. For the
   * placement hint: how many more jobs this node is still the best place for.
   */
  whatIf (extraJobs: number): number | undefined
  /**
   * Measure S again now, ignoring the cache, and use the new score (the
   * benchmark's progress goes to onProgress). One run at a time: a call
   * during a run gets that run's result.
   */
  rebench (): Promise<StaticScore>
  /** A benchmark is running now (the first one, or a re-measurement). */
  benchmarking (): boolean
  /** n counts pending jobs too; sysmetric is recomputed at once when pending work changes. */
  readonly pending: PendingWork
}

export { createMetricSampler } from './sampler.js'
export { createBenchmark, runKernelsInWorker, othersBusyDuring, type BenchmarkInit } from './benchmark.js'
export { createPendingWork } from './pending.js'
export { createProcReader, ProcError, type ProcReader } from './proc.js'
export { formatBreakdown, formatStaticScore } from './format.js'
export { median, staticScore, cpuFractions, cpuShare, memFactor, dynamicMetric, sysmetric } from './formula.js'
export * from './constants.js'
