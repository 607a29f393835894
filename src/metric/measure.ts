/**
 * Runs the kernels and times them. Pure JavaScript with no I/O, so it runs the
 * same in the benchmark worker and (at a small scale) in tests.
 */
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
   * What the repetitions measure: the CPU time of the thread that ran them
   * (not slowed by other programs taking turns on the CPU: the machine's
   * capability, not its momentary load), or wall time where Node cannot
   * tell a thread's CPU time.
   */
  clock: 'thread-cpu' | 'wall'
}

export interface MeasureProgress { kernel: KernelName, done: number, total: number }

/** Milliseconds of the chosen clock since some origin. */
function clockOf (kind: 'thread-cpu' | 'wall'): () => number {
  if (kind === 'thread-cpu') {
    return () => {
      const u = process.threadCpuUsage()
      return (u.user + u.system) / 1000
    }
  }
  return () => performance.now()
}

export function measureKernels (plan: MeasurePlan, onProgress?: (p: MeasureProgress) => void, clock: 'thread-cpu' | 'wall' = typeof process.threadCpuUsage === 'function' ? 'thread-cpu' : 'wall'): Measurement {
  const started = performance.now()
  const tick = clockOf(clock)
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
      const t0 = tick()
      const checksum = KERNELS[name].run(inputs[k])
      const ms = tick() - t0
      if (round === 0) results[k].checksum = checksum
      else if (checksum !== results[k].checksum) throw new Error(`${name} kernel returned ${checksum}, earlier ${results[k].checksum}: not deterministic`)
      if (timed) results[k].reps.push(ms)
      done++
      onProgress?.({ kernel: name, done, total })
    }
  }
  return { kernels: results, kernelsRun: done, elapsedMs: performance.now() - started, threadId, clock }
}
