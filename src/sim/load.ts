/**
 * The synthetic system metric of SPEC §4, from the quantities the simulator
 * tracks per node instead of /proc: static score S, cores C, runnable
 * processes n and the memory factor m.
 *
 *   f_busy = min(1, n/C), share = min(1, C·f_idle + C·f_busy/(n+1))
 *   sysmetric = (0.3·S + 0.7·400·share·m) / 2
 *
 * So an idle reference machine (S = 100) scores 155 and one core with four
 * busy processes 43, as in paper Table II.
 */
export function sysmetricOf (staticScore: number, cores: number, runnable: number, memFactor: number): number {
  const busy = Math.min(1, runnable / cores)
  const share = Math.min(1, cores * (1 - busy) + cores * busy / (runnable + 1))
  return (0.3 * staticScore + 0.7 * 400 * share * memFactor) / 2
}
