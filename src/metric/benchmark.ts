/**
 * The static score S: run the kernels in a worker thread, or load the score
 * cached for this boot, CPU model and Node version (the paper benchmarks at
 * reboot; the score cannot change in between).
 */
import { readFile } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import { writeFileAtomic } from '../home/index.js'
import { BENCHMARK_BUSY_SHARE, BENCHMARK_TIMEOUT_MS, BENCHMARK_VERSION, KERNEL_NAMES, KERNEL_REFERENCE_MS } from './constants.js'
import { staticScore } from './formula.js'
import { DEFAULT_PLAN, type MeasurePlan, type MeasureProgress, type Measurement } from './measure.js'
import { cpuTimes, createProcReader, type ProcReader } from './proc.js'
import type { WorkerMessage } from './worker.js'
import type { BenchmarkKey, BenchmarkRequest, KernelResult, StaticScore } from './index.js'

/** USER_HZ: /proc/stat counts in 1/100 s. */
const JIFFY_MS = 10

export type RunKernels = (plan: MeasurePlan, onProgress?: (p: MeasureProgress) => void) => Promise<Measurement>

export interface BenchmarkInit {
  /** Default /proc: where the boot id and CPU model are read. */
  procRoot?: string
  proc?: ProcReader
  /** The cache file; without one every call runs the kernels. */
  cacheFile?: string
  onProgress?: (p: MeasureProgress) => void
  /** Unusual events only: a corrupt or stale cache, an unwritable cache, no boot id. */
  log?: (line: string) => void
  /** Default: in a worker thread. Tests inject a fake to count runs. */
  runKernels?: RunKernels
  plan?: MeasurePlan
  nodeVersion?: string
  now?: () => number
}

/** The cache file's content. */
interface CacheFile {
  version: number
  scale: number
  key: BenchmarkKey
  score: number
  kernels: KernelResult[]
  measuredAt: string
  durationMs: number
  othersBusy: number
  busy: boolean
  clock: 'on-cpu' | 'wall'
}

/**
 * Runs `work` and tells how much of the machine's CPUs other programs used
 * meanwhile (0 to 1): all busy time in /proc/stat minus this process's own.
 */
export async function othersBusyDuring<T> (proc: ProcReader, work: () => Promise<T>): Promise<{ value: T, othersBusy: number }> {
  let before: ReturnType<typeof cpuTimes>['times'] | undefined
  try { before = cpuTimes(proc.stat()).times } catch { before = undefined }
  const own0 = process.cpuUsage()
  const value = await work()
  const own = process.cpuUsage(own0)
  let othersBusy = 0
  if (before != null) {
    try {
      const after = cpuTimes(proc.stat()).times
      const total = (after.idle - before.idle + after.busy - before.busy) * JIFFY_MS
      const othersMs = Math.max(0, (after.busy - before.busy) * JIFFY_MS - (own.user + own.system) / 1000)
      othersBusy = total > 0 ? Math.min(1, othersMs / total) : 0
    } catch {
      othersBusy = 0 // /proc went away meanwhile: the sampler reports that
    }
  }
  return { value, othersBusy }
}

/** Returns a function that yields S, from the cache when it is valid (unless asked for a fresh run). */
export function createBenchmark (init: BenchmarkInit = {}): (request?: BenchmarkRequest) => Promise<StaticScore> {
  const proc = init.proc ?? createProcReader(init.procRoot)
  const log = init.log ?? (() => {})
  const runKernels = init.runKernels ?? runKernelsInWorker
  const plan = init.plan ?? DEFAULT_PLAN
  const now = init.now ?? Date.now

  return async (request = {}) => {
    const { key, cacheable } = readKey(proc, init.nodeVersion ?? process.version, log)
    if (init.cacheFile !== undefined && cacheable && request.fresh !== true) {
      const cached = await loadCache(init.cacheFile, key, plan, log)
      if (cached !== undefined) return cached
    }
    const { value: measurement, othersBusy } = await othersBusyDuring(proc, async () => await runKernels(plan, init.onProgress))
    const kernels = measurement.kernels.map((k): KernelResult => {
      const ms = Math.min(...k.reps)
      const refMs = KERNEL_REFERENCE_MS[k.name] * plan.scale
      return { name: k.name, ms, refMs, ratio: refMs / ms, reps: k.reps }
    })
    const result: StaticScore = {
      score: staticScore(kernels.map((k) => k.ratio)),
      kernels,
      cached: false,
      key,
      measuredAt: new Date(now()).toISOString(),
      kernelsRun: measurement.kernelsRun,
      durationMs: measurement.elapsedMs,
      othersBusy,
      busy: othersBusy > BENCHMARK_BUSY_SHARE,
      clock: measurement.clock ?? 'wall'
    }
    if (init.cacheFile !== undefined && cacheable) {
      const file: CacheFile = { version: BENCHMARK_VERSION, scale: plan.scale, key, score: result.score, kernels, measuredAt: result.measuredAt, durationMs: result.durationMs, othersBusy, busy: result.busy, clock: result.clock }
      try {
        await writeFileAtomic(init.cacheFile, JSON.stringify(file, null, 2) + '\n', 0o600)
      } catch (err) {
        log(`metric: cannot cache the benchmark in ${init.cacheFile} (${(err as Error).message}); it will run again next time`)
      }
    }
    return result
  }
}

function readKey (proc: ProcReader, node: string, log: (line: string) => void): { key: BenchmarkKey, cacheable: boolean } {
  let cpuModel = 'unknown'
  try {
    cpuModel = proc.cpuModel()
  } catch {
    // A machine without a readable cpuinfo still has a boot id to key on.
  }
  try {
    return { key: { bootId: proc.bootId(), cpuModel, node }, cacheable: true }
  } catch (err) {
    log(`metric: ${(err as Error).message}; the benchmark result will not be cached`)
    return { key: { bootId: '', cpuModel, node }, cacheable: false }
  }
}

async function loadCache (file: string, key: BenchmarkKey, plan: MeasurePlan, log: (line: string) => void): Promise<StaticScore | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log(`metric: cannot read the benchmark cache ${file} (${(err as Error).message}); re-running the benchmark`)
    return undefined
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    log(`metric: the benchmark cache ${file} is corrupt (not JSON); re-running the benchmark`)
    return undefined
  }
  const problem = cacheProblem(data, plan)
  if (problem !== undefined) {
    log(`metric: the benchmark cache ${file} is unusable (${problem}); re-running the benchmark`)
    return undefined
  }
  const c = data as CacheFile
  if (c.key.bootId !== key.bootId || c.key.cpuModel !== key.cpuModel || c.key.node !== key.node) {
    return undefined // another boot, CPU or Node version: expected, not worth a log line
  }
  return { score: c.score, kernels: c.kernels, cached: true, key: c.key, measuredAt: c.measuredAt, kernelsRun: 0, durationMs: c.durationMs, othersBusy: c.othersBusy, busy: c.busy, clock: c.clock }
}

/** Why a parsed cache file cannot be used, or undefined when it can. */
function cacheProblem (data: unknown, plan: MeasurePlan): string | undefined {
  if (typeof data !== 'object' || data === null) return 'not an object'
  const c = data as Partial<CacheFile>
  if (c.version !== BENCHMARK_VERSION) return `version ${String(c.version)}, expected ${BENCHMARK_VERSION}`
  if (c.scale !== plan.scale) return `scale ${String(c.scale)}, expected ${plan.scale}`
  const key = c.key as Partial<BenchmarkKey> | undefined
  if (key == null || typeof key.bootId !== 'string' || typeof key.cpuModel !== 'string' || typeof key.node !== 'string') return 'no key'
  if (!isPositive(c.score)) return 'no score'
  if (typeof c.measuredAt !== 'string' || Number.isNaN(Date.parse(c.measuredAt))) return 'no date'
  if (!Array.isArray(c.kernels) || c.kernels.length !== KERNEL_NAMES.length) return 'wrong kernel list'
  for (const [i, k] of c.kernels.entries()) {
    if (k == null || k.name !== KERNEL_NAMES[i] || !isPositive(k.ms) || !isPositive(k.ratio) || !Array.isArray(k.reps)) return `bad entry for ${KERNEL_NAMES[i]}`
    if (k.refMs !== KERNEL_REFERENCE_MS[k.name] * plan.scale) return `reference time of ${k.name} changed`
  }
  if (typeof c.durationMs !== 'number') return 'no duration'
  if (typeof c.othersBusy !== 'number' || typeof c.busy !== 'boolean' || (c.clock !== 'on-cpu' && c.clock !== 'wall')) return 'no load figures'
  return undefined
}

function isPositive (x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0
}

/** Run the kernels in a worker thread: the daemon's event loop stays free meanwhile. */
export const runKernelsInWorker: RunKernels = async (plan, onProgress) => {
  return await new Promise<Measurement>((resolve, reject) => {
    // execArgv: [] — the worker must not inherit the parent's Node flags
    // (--input-type, --cpu-prof, … make a worker fail or profile the kernels).
    // '../metric/': right from this file and from the daemon's bundle in dist/src/cli/
    const worker = new Worker(new URL('../metric/worker.js', import.meta.url), { workerData: plan, execArgv: [] })
    let settled = false
    const finish = (err: Error | undefined, value?: Measurement): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void worker.terminate()
      if (err !== undefined) reject(err)
      else resolve(value as Measurement)
    }
    const timer = setTimeout(() => { finish(new Error(`the CPU benchmark did not finish in ${BENCHMARK_TIMEOUT_MS / 1000} s`)) }, BENCHMARK_TIMEOUT_MS)
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'progress') onProgress?.({ kernel: msg.kernel as MeasureProgress['kernel'], done: msg.done, total: msg.total })
      else if (msg.type === 'result') finish(undefined, msg.measurement)
      else finish(new Error(`the CPU benchmark failed: ${msg.message}`))
    })
    worker.on('error', (err) => { finish(new Error(`the CPU benchmark failed: ${err.message}`)) })
    worker.on('exit', (code) => { finish(new Error(`the CPU benchmark worker exited (code ${code}) without a result`)) })
  })
}
