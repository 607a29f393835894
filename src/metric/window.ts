/**
 * The load and memory readings the dynamic part is computed from: /proc/stat
 * (and the cgroup's CPU accounting, under a quota) read every interval and
 * kept for a window, so that the CPU fractions are a delta over about
 * `windowMs` however often the sampler reads.
 */
import { cpuFractions } from './formula.js'
import { ProcError, cpuTimes, type MemInfo, type ProcReader, type StatReading } from './proc.js'
import type { CgroupCpuReading, CgroupReader } from './cgroup.js'

export interface Reading { at: number, stat: StatReading, cgroup?: CgroupCpuReading }

/** The cgroup's CPU quota and how busy it was over the window. */
export interface CgroupInputs { version: 1 | 2, quotaCores: number, fBusy: number, runnable: number }

/** Runnable processes read between samples (the sampler's fresh()). */
export interface RunnableNow { at: number, procsRunning: number, cgroupRunnable?: number }

/** Everything a breakdown is computed from, except pending work (which can change between samples). */
export interface Inputs {
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
  now?: RunnableNow
}

/** The CPU part of the inputs over one window. */
interface CpuWindow { fIdle: number, idleJiffies: number, busyJiffies: number, windowMs: number }

export interface LoadWindowInit {
  proc: ProcReader
  cgroups: CgroupReader
  now: () => number
  windowMs: number
  /** CPUs to count; default those this process may run on */
  cpus?: number[]
}

export interface LoadWindow {
  /** the first reading was taken: the window is open */
  opened: () => boolean
  /** Read /proc once without keeping it: fails on a bad /proc before anything is spent on it. */
  check: () => void
  /** Take the reading that opens the window. */
  open: () => void
  /**
   * A new reading, and the inputs over the window that ends with it.
   * `previous`: the last inputs, whose CPU fractions stay when no jiffies elapsed.
   */
  next: (previous?: Inputs) => { reading: Reading, inputs: Inputs }
  /** The runnable processes at `at` (and the cgroup's, with `cgroup`), without a new window. */
  runnableNow: (at: number, cgroup: boolean) => RunnableNow
}

export function createLoadWindow (init: LoadWindowInit): LoadWindow {
  const { proc, cgroups, now, windowMs } = init
  let history: Reading[] = []

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

  function next (previous?: Inputs): { reading: Reading, inputs: Inputs } {
    const cur = read()
    const mem = proc.meminfo()
    const base = baseFor(cur.at)
    const cpus = init.cpus ?? proc.allowedCpus()
    const after = cpuTimes(cur.stat, cpus)
    if (after.cores === 0) throw new ProcError(`${proc.root}/stat`, `none of the CPUs ${String(cpus)} is listed`)
    const cpu = cpuWindow(cur, base, cpus, after, previous)
    const inWindow = history.filter((r) => base === undefined || r.at >= base.at)
    inWindow.push(cur)
    const procsRunning = inWindow.reduce((sum, r) => sum + r.stat.procsRunning, 0) / inWindow.length
    history = inWindow.filter((r) => cur.at - r.at <= windowMs * 2)
    const inputs: Inputs = {
      cgroup: cgroupWindow(cur, base),
      cores: after.cores,
      cpus: cpus?.filter((c) => cur.stat.cpus.has(c)) ?? [...cur.stat.cpus.keys()],
      ...cpu,
      procsRunning,
      mem,
      sampledAt: cur.at
    }
    return { reading: cur, inputs }
  }

  return {
    opened: () => history.length > 0,
    check: () => { proc.stat(); proc.meminfo() },
    open: () => { history.push(read()) },
    next,
    runnableNow: (at, cgroup) => ({ at, procsRunning: proc.stat().procsRunning, cgroupRunnable: cgroup ? cgroups.runnable() : undefined })
  }
}

/** The CPU fractions from `base` to `cur`. */
function cpuWindow (cur: Reading, base: Reading | undefined, cpus: number[] | undefined, after: ReturnType<typeof cpuTimes>, previous?: Inputs): CpuWindow {
  const before = base === undefined ? undefined : cpuTimes(base.stat, cpus)
  const fractions = before === undefined || before.cores !== after.cores ? undefined : cpuFractions(before.times, after.times)
  if (fractions !== undefined && base !== undefined) {
    return { fIdle: fractions.fIdle, idleJiffies: fractions.idle, busyJiffies: fractions.busy, windowMs: cur.at - base.at }
  }
  if (previous !== undefined) {
    // No jiffies elapsed (a window shorter than a tick, or counters reset): keep the last fractions.
    return { fIdle: previous.fIdle, idleJiffies: previous.idleJiffies, busyJiffies: previous.busyJiffies, windowMs: previous.windowMs }
  }
  // Nothing better yet: the average since boot.
  const fIdle = cpuFractions({ idle: 0, busy: 0 }, after.times)?.fIdle ?? 1
  return { fIdle, idleJiffies: after.times.idle, busyJiffies: after.times.busy, windowMs: 0 }
}

/** How busy the cgroup was from `base` to `cur`, under its quota; undefined without a quota. */
function cgroupWindow (cur: Reading, base: Reading | undefined): CgroupInputs | undefined {
  if (cur.cgroup == null) return undefined
  const { quotaCores, usageUsec, runnable, version } = cur.cgroup
  const prev = base?.cgroup
  const elapsedUsec = base === undefined ? 0 : (cur.at - base.at) * 1000
  // without CPU accounting, a cgroup with runnable processes counts as busy
  const fBusy = usageUsec != null && prev?.usageUsec != null && elapsedUsec > 0
    ? Math.min(1, Math.max(0, (usageUsec - prev.usageUsec) / (quotaCores * elapsedUsec)))
    : Math.min(1, runnable / quotaCores)
  return { version, quotaCores, fBusy, runnable }
}
