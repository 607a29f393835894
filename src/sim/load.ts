/**
 * The synthetic system metric of SPEC §4, from the quantities the simulator
 * tracks per node instead of /proc: static score S, cores C, runnable
 * processes n and the memory factor m. It is the daemon's own arithmetic
 * (src/metric/formula.ts) fed with a busy fraction min(1, n/C) instead of
 * a /proc/stat window, so an idle reference machine (S = 100) scores 155
 * and one core with four busy processes 43, as in paper Table II.
 */
import { cpuShare, dynamicMetric, sysmetric } from '../metric/formula.js'

export function sysmetricOf (staticScore: number, cores: number, runnable: number, memFactor: number): number {
  const busy = Math.min(1, runnable / cores)
  return sysmetric(staticScore, dynamicMetric(cpuShare(cores, 1 - busy, runnable), memFactor))
}
