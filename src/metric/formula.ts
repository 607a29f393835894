/**
 * The system metric's arithmetic (SPEC §4, paper eqs. 2–5), pure: no I/O, no
 * clock. The sampler, the simulator and the tests all use these.
 */
import {
  DEFAULT_MEM_THRESHOLD, DYNAMIC_SCALE, DYNAMIC_WEIGHT, STATIC_REFERENCE, STATIC_WEIGHT
} from './constants.js'

/** Median of a non-empty list (mean of the middle two for an even length). */
export function median (values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * S = 100 · mean(r_i / t_i): the paper's eq. 1–2 turned round so that bigger
 * means faster, like the rest of the metric (the reference machine → 100).
 */
export function staticScore (ratios: readonly number[]): number {
  if (ratios.length === 0) throw new RangeError('static score of no kernels')
  return STATIC_REFERENCE * ratios.reduce((a, b) => a + b, 0) / ratios.length
}

/** Jiffies a CPU (or a sum of CPUs) spent idle and busy. */
export interface CpuTimes { idle: number, busy: number }

/** Idle and busy fractions of a window; undefined when no time elapsed (or the counters went back). */
export function cpuFractions (before: CpuTimes, after: CpuTimes): { fIdle: number, fBusy: number, idle: number, busy: number } | undefined {
  const idle = after.idle - before.idle
  const busy = after.busy - before.busy
  if (idle < 0 || busy < 0 || idle + busy <= 0) return undefined
  const fIdle = idle / (idle + busy)
  return { fIdle, fBusy: 1 - fIdle, idle, busy }
}

/**
 * The CPU share, in cores, a new process would get (paper eq. 3 generalised
 * to C cores), capped at one core: the idle part of every core, plus a fair
 * 1/(n+1) slice of the busy part shared with the n runnable processes.
 *   idle → 1; 1 core, 4 busy processes → 1/5; 2 cores, 1 busy process → 1.
 */
export function cpuShare (cores: number, fIdle: number, running: number): number {
  const c = Math.max(1, cores)
  const idle = clamp01(fIdle)
  const n = Math.max(0, running)
  return Math.min(1, c * idle + c * (1 - idle) / (n + 1))
}

/**
 * Memory factor m (eq. 4), applied only when memory is short: 1 while
 * MemAvailable/MemTotal is at or above the threshold, then falling linearly.
 */
export function memFactor (availableKiB: number, totalKiB: number, threshold = DEFAULT_MEM_THRESHOLD): number {
  if (!(totalKiB > 0) || !(threshold > 0)) return 1
  return clamp01((Math.max(0, availableKiB) / totalKiB) / threshold)
}

/** D = 400 · share · m: an idle machine with memory to spare has D = 400. */
export function dynamicMetric (share: number, mem: number): number {
  return DYNAMIC_SCALE * share * mem
}

/** Sysmetric = (0.3·S + 0.7·D) / 2 (eq. 5): idle reference machine → 155. */
export function sysmetric (staticScoreValue: number, dynamic: number): number {
  return (STATIC_WEIGHT * staticScoreValue + DYNAMIC_WEIGHT * dynamic) / 2
}

function clamp01 (x: number): number {
  if (!Number.isFinite(x)) return 0
  return Math.min(1, Math.max(0, x))
}

/**
 * The share a new process would get inside a cgroup limited to `quotaCores`
 * (which may be below one core): the idle part of the quota, plus a fair
 * slice of its busy part shared with the n runnable processes of the cgroup.
 *   quota 1, 4 busy processes → 0.2; quota 0.25, idle → 0.25.
 */
export function cgroupShare (quotaCores: number, fBusy: number, running: number): number {
  const q = Math.max(0, quotaCores)
  const busy = clamp01(fBusy)
  const n = Math.max(0, running)
  return Math.min(1, q, q * (1 - busy) + q * busy / (n + 1))
}
