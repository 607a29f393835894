/**
 * The metric sampler the daemon runs: the static score once, then the
 * dynamic part from /proc every few seconds. A bad /proc read never escapes
 * the timer: it is logged once and the last good value stays current.
 */
import {
  DEFAULT_INTERVAL_MS, DEFAULT_MEM_THRESHOLD, DEFAULT_WINDOW_MS, FIRST_WINDOW_MS, REBENCH_IDLE_FRACTION, REBENCH_RETRY_MS
} from './constants.js'
import { createBenchmark } from './benchmark.js'
import { cgroupShare, cpuFractions, cpuShare, dynamicMetric, memFactor, sysmetric } from './formula.js'
import { createCgroupReader, type CgroupCpuReading } from './cgroup.js'
import { createPendingWork } from './pending.js'
import { ProcError, cpuTimes, createProcReader, type MemInfo, type StatReading } from './proc.js'
import type { MetricBreakdown, MetricSampler, MetricSamplerInit, StaticScore } from './index.js'
import PQueue from 'p-queue'
import { debugLogger, logged } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('metric')

interface Reading { at: number, stat: StatReading, cgroup?: CgroupCpuReading }

/** fresh() reads the runnable processes at most this often */
const FRESH_MS = 100

/** The cgroup's CPU quota and how busy it was over the window. */
interface CgroupInputs { version: 1 | 2, quotaCores: number, fBusy: number, runnable: number }

/** Everything a breakdown is computed from, except pending work (which can change between samples). */
interface Inputs {
  cores: number
  cpus: number[]
  fIdle: number
  idleJiffies: number
  busyJiffies: number
  procsRunning: number
  mem: MemInfo
  windowMs: number
  sampledAt: number
  cgroup?: CgroupInputs
  /** runnable processes right now (fresh()), between samples */
  now?: { at: number, procsRunning: number, cgroupRunnable?: number }
}

export function createMetricSampler (init: MetricSamplerInit): MetricSampler {
  const proc = createProcReader(init.procRoot)
  const cgroups = createCgroupReader({ procRoot: init.procRoot, cgroupRoot: init.cgroupRoot })
  const now = init.now ?? Date.now
  const windowMs = init.windowMs ?? DEFAULT_WINDOW_MS
  const intervalMs = init.intervalMs ?? DEFAULT_INTERVAL_MS
  const memThreshold = init.memThreshold ?? DEFAULT_MEM_THRESHOLD
  const log = init.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const sleep = init.sleep ?? (async (ms: number) => { await new Promise((resolve) => setTimeout(resolve, ms)) })
  const benchmark = init.benchmark ?? createBenchmark({ proc, cacheFile: init.cacheFile, onProgress: init.onProgress, log })

  let score: StaticScore | undefined
  let scoring: Promise<StaticScore> | undefined
  /** a re-measurement in progress (rebench, or a busy score measured again) */
  let rescoring: Promise<StaticScore> | undefined
  /** when a score taken on a busy machine may next be measured again */
  let nextRetry = now() + REBENCH_RETRY_MS
  let history: Reading[] = []
  let inputs: Inputs | undefined
  let latest: MetricBreakdown | undefined
  let running = false
  let timer: NodeJS.Timeout | undefined
  let expiryTimer: NodeJS.Timeout | undefined
  let reportedError: string | undefined
  const samples = new PQueue({ concurrency: 1 })

  const pending = createPendingWork({
    now,
    onChange: () => {
      recompute()
      scheduleExpiry()
    }
  })

  async function ensureStatic (): Promise<StaticScore> {
    if (score !== undefined) return score
    scoring ??= benchmark().finally(() => { scoring = undefined })
    score = await scoring
    return score
  }

  function describeScore (s: StaticScore): string {
    return s.cached
      ? `metric: static score S = ${s.score.toFixed(1)} (benchmarked ${s.measuredAt}, cached for this boot${s.busy ? '; the machine was busy then: measuring again when it is idle' : ''})`
      : `metric: static score S = ${s.score.toFixed(1)} (benchmarked in ${(s.durationMs / 1000).toFixed(1)} s: ${s.kernels.map((k) => `${k.name} ×${k.ratio.toFixed(2)}`).join(', ')}${s.busy ? `; other programs used ${Math.round(100 * s.othersBusy)} % of the CPUs meanwhile: measuring again when the machine is idle` : ''})`
  }

  /**
   * Measure S again. `keepBetter`: an automatic retry of a busy score keeps
   * the old one unless the new run was quiet or scored higher (load only
   * ever makes the benchmark slower).
   */
  async function remeasure (keepBetter: boolean): Promise<StaticScore> {
    if (scoring !== undefined) await scoring.catch(logged(debug, 'the running benchmark (reported by its caller)'))
    rescoring ??= (async () => {
      const fresh = await benchmark({ fresh: true })
      const old = score
      if (!keepBetter || old === undefined || !fresh.busy || fresh.score > old.score) score = fresh
      else if (old !== undefined) log(`metric: measured S = ${fresh.score.toFixed(1)} on a busy machine again; keeping ${old.score.toFixed(1)}`)
      if (score === fresh) log(describeScore(fresh))
      recompute()
      return score ?? fresh
    })().finally(() => { rescoring = undefined; nextRetry = now() + REBENCH_RETRY_MS })
    return await rescoring
  }

  /** A score taken on a busy machine is measured again once the machine is idle. */
  function maybeRetry (b: MetricBreakdown): void {
    if (score?.busy !== true || rescoring !== undefined || now() < nextRetry) return
    if (b.fIdle < REBENCH_IDLE_FRACTION) return
    remeasure(true).catch((err) => { log(`metric: measuring the CPU again failed: ${(err as Error).message}`) })
  }

  function read (): Reading {
    return { at: now(), stat: proc.stat(), cgroup: cgroups.read() }
  }

  /**
   * The base of the delta: the earlier reading whose age is closest to the
   * window (readings come every intervalMs, which may be shorter).
   */
  function baseFor (at: number): Reading | undefined {
    let best: Reading | undefined
    for (const r of history) {
      if (r.at > at) continue
      if (best === undefined || Math.abs(at - r.at - windowMs) < Math.abs(at - best.at - windowMs)) best = r
    }
    return best
  }

  async function takeSample (firstWindowMs: number): Promise<MetricBreakdown> {
    if (history.length === 0) {
      // Fail on a bad /proc before spending a benchmark run, and run the
      // benchmark before the window opens (it would show up as load).
      proc.stat(); proc.meminfo()
      await ensureStatic()
      history.push(read())
      await sleep(firstWindowMs)
    }
    const s = await ensureStatic()
    const cur = read()
    const mem = proc.meminfo()
    const base = baseFor(cur.at)
    const cpus = init.cpus ?? proc.allowedCpus()
    const after = cpuTimes(cur.stat, cpus)
    if (after.cores === 0) throw new ProcError(`${proc.root}/stat`, `none of the CPUs ${String(cpus)} is listed`)
    const before = base === undefined ? undefined : cpuTimes(base.stat, cpus)
    const fractions = before === undefined || before.cores !== after.cores ? undefined : cpuFractions(before.times, after.times)

    let fIdle: number; let idleJiffies: number; let busyJiffies: number; let window: number
    if (fractions !== undefined && base !== undefined) {
      ({ fIdle, idle: idleJiffies, busy: busyJiffies } = fractions)
      window = cur.at - base.at
    } else if (inputs !== undefined) {
      // No jiffies elapsed (a window shorter than a tick, or counters reset): keep the last fractions.
      ({ fIdle, idleJiffies, busyJiffies, windowMs: window } = inputs)
    } else {
      // Nothing better yet: the average since boot.
      fIdle = cpuFractions({ idle: 0, busy: 0 }, after.times)?.fIdle ?? 1
      idleJiffies = after.times.idle; busyJiffies = after.times.busy; window = 0
    }
    const inWindow = history.filter((r) => base === undefined || r.at >= base.at)
    inWindow.push(cur)
    const procsRunning = inWindow.reduce((sum, r) => sum + r.stat.procsRunning, 0) / inWindow.length

    history = inWindow.filter((r) => cur.at - r.at <= windowMs * 2)
    let cgroup: CgroupInputs | undefined
    if (cur.cgroup != null) {
      const { quotaCores, usageUsec, runnable, version } = cur.cgroup
      const prev = base?.cgroup
      const elapsedUsec = base === undefined ? 0 : (cur.at - base.at) * 1000
      // without CPU accounting, a cgroup with runnable processes counts as busy
      const fBusy = usageUsec != null && prev?.usageUsec != null && elapsedUsec > 0
        ? Math.min(1, Math.max(0, (usageUsec - prev.usageUsec) / (quotaCores * elapsedUsec)))
        : Math.min(1, runnable / quotaCores)
      cgroup = { version, quotaCores, fBusy, runnable }
    }
    inputs = {
      cgroup,
      cores: after.cores,
      cpus: cpus?.filter((c) => cur.stat.cpus.has(c)) ?? [...cur.stat.cpus.keys()],
      fIdle,
      idleJiffies,
      busyJiffies,
      procsRunning,
      mem,
      windowMs: window,
      sampledAt: cur.at
    }
    // promised jobs that have started since the last reading are among its runnable processes now
    if (cur.cgroup != null) pending.observe(cur.cgroup.runnable, cur.at, 'cgroup')
    else pending.observe(cur.stat.procsRunning - 1, cur.at, 'host')
    return publish(compute(s, inputs))
  }

  function compute (s: StaticScore, i: Inputs, extraJobs = 0): MetricBreakdown {
    const pendingJobs = pending.count() + extraJobs
    const cores = Math.max(1, i.cores)
    // processes running now (fresh()) count at once: a job that has just started is busy time
    // before the window's average shows it; the window's busy time stays until it has passed
    const runningNow = i.now == null ? undefined : Math.max(0, i.now.procsRunning - 1)
    const fIdle = runningNow == null ? i.fIdle : Math.min(i.fIdle, 1 - Math.min(1, runningNow / cores))
    const runningProcs = (runningNow ?? Math.max(0, i.procsRunning - 1)) + pendingJobs // minus the sampler, which read the file
    // a pending job will keep a core busy: count it as busy time as well as a runnable process,
    // or an idle node would look idle however many jobs it has just promised to take
    const hostShare = cpuShare(i.cores, Math.max(0, fIdle - pendingJobs / cores), runningProcs)
    // under a CPU quota the cgroup is the machine: /proc/stat counts every container or
    // emulated host sharing this kernel, and the quota is what this node may use
    let share = hostShare
    if (i.cgroup != null) {
      const q = i.cgroup.quotaCores
      const runnable = i.now?.cgroupRunnable ?? i.cgroup.runnable
      const busy = i.now?.cgroupRunnable == null ? i.cgroup.fBusy : Math.max(i.cgroup.fBusy, Math.min(1, runnable / q))
      share = cgroupShare(q, Math.min(1, busy + pendingJobs / q), runnable + pendingJobs)
    }
    const m = memFactor(i.mem.availableKiB, i.mem.totalKiB, memThreshold)
    const dynamic = dynamicMetric(share, m)
    return {
      static: s.score,
      kernels: s.kernels,
      benchmarkCached: s.cached,
      benchmarkMeasuredAt: s.measuredAt,
      benchmarkBusy: s.busy,
      cores: i.cores,
      cpus: i.cpus,
      fIdle: i.fIdle,
      fBusy: 1 - i.fIdle,
      idleJiffies: i.idleJiffies,
      busyJiffies: i.busyJiffies,
      procsRunning: i.procsRunning,
      running: runningProcs,
      pending: pendingJobs,
      share,
      memAvailableKiB: i.mem.availableKiB,
      memTotalKiB: i.mem.totalKiB,
      memThreshold,
      memFactor: m,
      dynamic,
      sysmetric: sysmetric(s.score, dynamic),
      windowMs: i.windowMs,
      sampledAt: i.sampledAt,
      cgroup: i.cgroup ?? null
    }
  }

  function publish (b: MetricBreakdown): MetricBreakdown {
    latest = b
    init.onSample?.(b)
    return b
  }

  /** Pending work changed: the same /proc inputs give a new n, share and sysmetric. */
  function recompute (): void {
    if (score !== undefined && inputs !== undefined) publish(compute(score, inputs))
  }

  function scheduleExpiry (): void {
    if (expiryTimer !== undefined) clearTimeout(expiryTimer)
    expiryTimer = undefined
    const next = pending.nextExpiry()
    if (next === undefined) return
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined
      pending.count() // drops the expired tickets
      recompute()
      scheduleExpiry()
    }, Math.max(0, next - now()) + 1)
    expiryTimer.unref()
  }

  /** Samples one at a time: a timer tick and an explicit sample() must not interleave their readings. */
  async function serialised (firstWindowMs: number): Promise<MetricBreakdown> {
    return await samples.add(async () => await takeSample(firstWindowMs))
  }

  /** One line per distinct problem, not one every interval; one more when it clears. */
  function reportError (err: unknown): void {
    const message = errorMessage(err)
    if (message === reportedError) return
    reportedError = message
    const kept = latest === undefined
      ? 'no value yet'
      : `keeping the last good value (sysmetric ${latest.sysmetric.toFixed(1)} from ${new Date(latest.sampledAt).toISOString()})`
    log(`metric: cannot sample ${err instanceof ProcError ? '/proc' : 'the system metric'}: ${message}; ${kept}`)
  }

  function reportRecovery (): void {
    if (reportedError === undefined) return
    reportedError = undefined
    log(`metric: sampling ${proc.root} works again`)
  }

  async function tick (firstWindowMs: number): Promise<void> {
    try {
      maybeRetry(await serialised(firstWindowMs))
      reportRecovery()
    } catch (err) {
      reportError(err)
    }
  }

  function scheduleTick (): void {
    if (!running) return
    timer = setTimeout(() => {
      timer = undefined
      void tick(windowMs).finally(scheduleTick)
    }, intervalMs)
    timer.unref()
  }

  return {
    pending,
    async start () {
      if (running) return
      running = true
      const s = await ensureStatic()
      log(describeScore(s))
      if (!running) return
      await tick(Math.min(windowMs, FIRST_WINDOW_MS))
      scheduleTick()
    },
    stop () {
      running = false
      if (timer !== undefined) clearTimeout(timer)
      if (expiryTimer !== undefined) clearTimeout(expiryTimer)
      timer = undefined
      expiryTimer = undefined
    },
    current () {
      return latest
    },
    fresh () {
      if (score === undefined || inputs === undefined) return latest
      const at = now()
      if (inputs.now != null && at - inputs.now.at < FRESH_MS) return latest
      try {
        inputs.now = { at, procsRunning: proc.stat().procsRunning, cgroupRunnable: inputs.cgroup != null ? cgroups.read()?.runnable : undefined }
      } catch {
        return latest // the next sample reports the problem
      }
      // jobs that started a moment ago are among the runnable processes now: they count once
      if (inputs.cgroup == null) pending.observe(inputs.now.procsRunning - 1, at, 'host')
      else if (inputs.now.cgroupRunnable != null) pending.observe(inputs.now.cgroupRunnable, at, 'cgroup')
      return publish(compute(score, inputs))
    },
    async sample () {
      return await serialised(windowMs)
    },
    staticScore () {
      return score
    },
    whatIf (extraJobs) {
      if (score === undefined || inputs === undefined) return undefined
      return compute(score, inputs, Math.max(0, extraJobs)).sysmetric
    },
    async rebench () {
      return await remeasure(false)
    },
    benchmarking () {
      return scoring !== undefined || rescoring !== undefined
    }
  }
}
