/** Small statistics for benchmarks: percentiles of repeated timings, a process's CPU. */
import { readFileSync } from 'node:fs'

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const rank = (sorted.length - 1) * p
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

export async function timeIt (fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

export function fmt (n: number | undefined | null, digits = 1): string {
  return n == null || !Number.isFinite(n) ? '-' : n.toFixed(digits)
}

/**
 * A process's CPU seconds from /proc/<pid>/stat: its own (all its threads)
 * and that of the children it waited for. USER_HZ is 100 on Linux.
 */
export function processCpu (pid: number | 'self'): { self: number, children: number } {
  // after "(comm) ": state is fields[0], utime fields[11], stime [12], cutime [13], cstime [14]
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number)
  return { self: (fields[11] + fields[12]) / 100, children: (fields[13] + fields[14]) / 100 }
}
