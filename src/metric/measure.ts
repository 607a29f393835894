/**
 * Runs the kernels and times them, in the benchmark worker and (at a small
 * scale) in tests. The only I/O is the clock: /proc/thread-self/schedstat.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { threadId } from 'node:worker_threads'
import {
  BENCHMARK_BUDGET_MS, BENCHMARK_ROUNDS, BENCHMARK_WARMUP_ROUNDS, KERNEL_NAMES, MIN_BENCHMARK_ROUNDS,
  type KernelName
} from './constants.js'
import { KERNELS, KERNEL_SIZES } from './kernels.js'

export interface MeasurePlan {
  kernels: readonly KernelName[]
  /** Multiplies every kernel's work size (1 = the calibrated size). */
  scale: number
  warmupRounds: number
  rounds: number
  minRounds: number
  budgetMs: number
}

export const DEFAULT_PLAN: MeasurePlan = {
  kernels: KERNEL_NAMES,
  scale: 1,
  warmupRounds: BENCHMARK_WARMUP_ROUNDS,
  rounds: BENCHMARK_ROUNDS,
  minRounds: MIN_BENCHMARK_ROUNDS,
  budgetMs: BENCHMARK_BUDGET_MS
}

export interface MeasuredKernel {
  name: KernelName
  /** Timed repetitions, ms (of the clock in Measurement.clock). */
  reps: number[]
  /** Identical for every repetition (checked): proves the work was done. */
  checksum: number
}

export interface Measurement {
  kernels: MeasuredKernel[]
  /** Kernel invocations made, warm-up included. */
  kernelsRun: number
  /** Wall time of the whole run, set-up included, ms. */
  elapsedMs: number
  /** The thread that ran the kernels (0 is the main thread). */
  threadId: number
  /**
   * What the repetitions measure: `on-cpu`, the time the thread was on a
   * CPU (wall time minus the time it waited for one while other programs
   * had their turn: the machine's capability, not its momentary load), or
   * `wall` where the kernel does not say how long a thread waited.
   */
  clock: Clock
}

export interface MeasureProgress { kernel: KernelName, done: number, total: number }

export type Clock = 'on-cpu' | 'wall'

/** ms this thread has waited for a CPU so far (schedstat's run_delay, ns, counted when it gets one back) */
function waitedMs (): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6
}

/** on-cpu where /proc/thread-self/schedstat tells the waits (Linux with schedstats), else wall */
export function bestClock (): Clock {
  try {
    return Number.isFinite(waitedMs()) ? 'on-cpu' : 'wall'
  } catch {
    return 'wall'
  }
}

/**
 * Times `work`. Thread CPU time as Node reports it (getrusage) moves in
 * scheduler ticks (4 ms here, a third of a kernel's run), so on-cpu time is
 * taken as wall time minus the waits: both to the nanosecond. The reads are
 * ordered so that a wait outside the work can only add to the time, never
 * subtract from it.
 */
function timeOf (clock: Clock, work: () => number): { ms: number, checksum: number } {
  const t0 = performance.now()
  const w0 = clock === 'on-cpu' ? waitedMs() : 0
  const checksum = work()
  const w1 = clock === 'on-cpu' ? waitedMs() : 0
  const wall = performance.now() - t0
  return { ms: Math.max(wall - (w1 - w0), 0.001), checksum }
}

export function measureKernels (plan: MeasurePlan, onProgress?: (p: MeasureProgress) => void, clock: Clock = bestClock()): Measurement {
  const started = performance.now()
  const inputs = plan.kernels.map((name) => KERNELS[name].prepare(Math.max(1, Math.round(KERNEL_SIZES[name] * plan.scale))))
  const results: MeasuredKernel[] = plan.kernels.map((name) => ({ name, reps: [], checksum: 0 }))
  const total = (plan.warmupRounds + plan.rounds) * plan.kernels.length
  let done = 0
  const rounds = plan.warmupRounds + plan.rounds
  for (let round = 0; round < rounds; round++) {
    const timed = round >= plan.warmupRounds
    if (timed && round - plan.warmupRounds >= plan.minRounds && performance.now() - started > plan.budgetMs) break
    for (let k = 0; k < plan.kernels.length; k++) {
      const name = plan.kernels[k]
      const { ms, checksum } = timeOf(clock, () => KERNELS[name].run(inputs[k]))
      if (round === 0) results[k].checksum = checksum
      else if (checksum !== results[k].checksum) throw new Error(`${name} kernel returned ${checksum}, earlier ${results[k].checksum}: not deterministic`)
      if (timed) results[k].reps.push(ms)
      done++
      onProgress?.({ kernel: name, done, total })
    }
  }
  return { kernels: results, kernelsRun: done, elapsedMs: performance.now() - started, threadId, clock }
}
