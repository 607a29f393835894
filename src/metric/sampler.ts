/**
 * The metric sampler the daemon runs: the static score once, then the
 * dynamic part from /proc every few seconds. A bad /proc read never escapes
 * the timer: it is logged once and the last good value stays current.
 *
 * Its parts: the static score (score.ts), the load and memory readings over
 * the window (window.ts), the breakdown computed from them (breakdown.ts);
 * here, the timer that samples, and the publishing of every new breakdown
 * (a sample, pending work changing, a pending job expiring).
 */
import { DEFAULT_INTERVAL_MS, DEFAULT_MEM_THRESHOLD, DEFAULT_WINDOW_MS, FIRST_WINDOW_MS } from './constants.js'
import { createBenchmark } from './benchmark.js'
import { computeBreakdown } from './breakdown.js'
import { createCgroupReader } from './cgroup.js'
import { createPendingWork, type PendingWorkTracker } from './pending.js'
import { ProcError, createProcReader } from './proc.js'
import { createScoreKeeper, describeScore } from './score.js'
import { createLoadWindow, type Inputs, type LoadWindow } from './window.js'
import type { MetricBreakdown, MetricSampler, MetricSamplerInit, StaticScore } from './index.js'
import PQueue from 'p-queue'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('metric')

/** fresh() reads the runnable processes at most this often */
const FRESH_MS = 100

export function createMetricSampler (init: MetricSamplerInit): MetricSampler {
  const proc = createProcReader(init.procRoot)
  const now = init.now ?? Date.now
  const windowMs = init.windowMs ?? DEFAULT_WINDOW_MS
  const intervalMs = init.intervalMs ?? DEFAULT_INTERVAL_MS
  const memThreshold = init.memThreshold ?? DEFAULT_MEM_THRESHOLD
  const log = init.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const sleep = init.sleep ?? (async (ms: number) => { await new Promise((resolve) => setTimeout(resolve, ms)) })
  const scores = createScoreKeeper({
    benchmark: init.benchmark ?? createBenchmark({ proc, cacheFile: init.cacheFile, onProgress: init.onProgress, log }),
    now,
    log,
    onChange: recompute
  })
  const load = createLoadWindow({ proc, cgroups: createCgroupReader({ procRoot: init.procRoot, cgroupRoot: init.cgroupRoot }), now, windowMs, cpus: init.cpus })
  const pending = createPendingWork({ now, onChange: () => { recompute(); expiry.schedule() } })
  // a pending job that expires changes the value as its redemption would
  const expiry = createExpiryTimer({ now, next: () => pending.nextExpiry(), onExpire: () => { pending.count(); recompute() } })
  const errors = createErrorReport({ log, procRoot: proc.root, latest: () => latest })
  /** Samples one at a time: a timer tick and an explicit sample() must not interleave their readings. */
  const samples = new PQueue({ concurrency: 1 })
  const ticks = createRepeat(intervalMs, async () => { await tick(windowMs) })

  let inputs: Inputs | undefined
  let latest: MetricBreakdown | undefined

  function compute (s: StaticScore, i: Inputs, extraJobs = 0): MetricBreakdown {
    return computeBreakdown(s, i, pending.count() + extraJobs, memThreshold)
  }

  function publish (b: MetricBreakdown): MetricBreakdown {
    latest = b
    init.onSample?.(b)
    return b
  }

  /** Pending work or S changed: the same /proc inputs give a new n, share and sysmetric. */
  function recompute (): void {
    const s = scores.current()
    if (s !== undefined && inputs !== undefined) publish(compute(s, inputs))
  }

  async function takeSample (firstWindowMs: number): Promise<MetricBreakdown> {
    if (!load.opened()) {
      // Fail on a bad /proc before spending a benchmark run, and run the
      // benchmark before the window opens (it would show up as load).
      load.check()
      await scores.ensure()
      load.open()
      await sleep(firstWindowMs)
    }
    const s = await scores.ensure()
    const { reading, inputs: next } = load.next(inputs)
    inputs = next
    // promised jobs that have started since the last reading are among its runnable processes now
    if (reading.cgroup != null) pending.observe(reading.cgroup.runnable, reading.at, 'cgroup')
    else pending.observe(reading.stat.procsRunning - 1, reading.at, 'host')
    return publish(compute(s, inputs))
  }

  async function serialised (firstWindowMs: number): Promise<MetricBreakdown> {
    return await samples.add(async () => await takeSample(firstWindowMs))
  }

  async function tick (firstWindowMs: number): Promise<void> {
    try {
      scores.retryWhenIdle((await serialised(firstWindowMs)).fIdle)
      errors.recovered()
    } catch (err) {
      errors.failed(err)
    }
  }

  return {
    pending,
    async start () {
      if (!ticks.activate()) return
      log(describeScore(await scores.ensure()))
      if (!ticks.active()) return
      await tick(Math.min(windowMs, FIRST_WINDOW_MS))
      ticks.schedule()
    },
    stop () {
      ticks.stop()
      expiry.stop()
    },
    current () {
      return latest
    },
    fresh () {
      const s = scores.current()
      if (s === undefined || inputs === undefined) return latest
      return readRunnable(inputs, load, pending, now()) ? publish(compute(s, inputs)) : latest
    },
    readNow () {
      const s = scores.current()
      if (s === undefined || inputs === undefined) return latest
      return readRunnable(inputs, load, pending, now(), true) ? publish(compute(s, inputs)) : latest
    },
    async sample () {
      return await serialised(windowMs)
    },
    staticScore () {
      return scores.current()
    },
    whatIf (extraJobs) {
      const s = scores.current()
      if (s === undefined || inputs === undefined) return undefined
      return compute(s, inputs, Math.max(0, extraJobs)).sysmetric
    },
    async rebench () {
      return await scores.remeasure(false)
    },
    benchmarking () {
      return scores.measuring()
    }
  }
}

/**
 * Read the runnable processes now into `inputs.now` (at most every FRESH_MS, unless `always`):
 * jobs that started a moment ago count at once, and only once. False when
 * nothing new was read.
 */
function readRunnable (inputs: Inputs, load: LoadWindow, pending: PendingWorkTracker, at: number, always = false): boolean {
  if (!always && inputs.now != null && at - inputs.now.at < FRESH_MS) return false
  try {
    inputs.now = load.runnableNow(at, inputs.cgroup != null)
  } catch (err) {
    debug('reading the runnable processes: %s (the next sample reports it)', errorMessage(err))
    return false
  }
  if (inputs.cgroup == null) pending.observe(inputs.now.procsRunning - 1, at, 'host')
  else if (inputs.now.cgroupRunnable != null) pending.observe(inputs.now.cgroupRunnable, at, 'cgroup')
  return true
}

/** `run` again `intervalMs` after each run ends, from activate() until stop(); the timer does not hold the process open. */
function createRepeat (intervalMs: number, run: () => Promise<void>): { activate: () => boolean, active: () => boolean, schedule: () => void, stop: () => void } {
  let active = false
  let timer: NodeJS.Timeout | undefined
  function schedule (): void {
    if (!active) return
    timer = setTimeout(() => {
      timer = undefined
      void run().finally(schedule)
    }, intervalMs)
    timer.unref()
  }
  return {
    /** false when already active */
    activate () {
      if (active) return false
      active = true
      return true
    },
    active: () => active,
    schedule,
    stop () {
      active = false
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
  }
}

/** setTimeout's longest delay; a later expiry is simply looked at again then */
const MAX_TIMER_MS = 2 ** 31 - 1

/** One timer, set for the next pending job to expire (`next()`), set again after each. */
function createExpiryTimer (init: { now: () => number, next: () => number | undefined, onExpire: () => void }): { schedule: () => void, stop: () => void } {
  let timer: NodeJS.Timeout | undefined
  function stop (): void {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  }
  function schedule (): void {
    stop()
    const next = init.next()
    if (next === undefined) return
    timer = setTimeout(() => {
      timer = undefined
      init.onExpire()
      schedule()
    }, Math.min(MAX_TIMER_MS, Math.max(0, next - init.now()) + 1))
    timer.unref()
  }
  return { schedule, stop }
}

/** A failing sample as one line per distinct problem, not one every interval; one more when it clears. */
function createErrorReport (init: { log: (line: string) => void, procRoot: string, latest: () => MetricBreakdown | undefined }): { failed: (err: unknown) => void, recovered: () => void } {
  let reported: string | undefined
  return {
    failed (err) {
      const message = errorMessage(err)
      if (message === reported) return
      reported = message
      const latest = init.latest()
      const kept = latest === undefined
        ? 'no value yet'
        : `keeping the last good value (sysmetric ${latest.sysmetric.toFixed(1)} from ${new Date(latest.sampledAt).toISOString()})`
      init.log(`metric: cannot sample ${err instanceof ProcError ? '/proc' : 'the system metric'}: ${message}; ${kept}`)
    },
    recovered () {
      if (reported === undefined) return
      reported = undefined
      init.log(`metric: sampling ${init.procRoot} works again`)
    }
  }
}
