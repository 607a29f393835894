import { ORIGIN_SATURATED_BUSY, ORIGIN_YIELD_JOBS } from './constants.js'

/**
 * The placement hint (docs/builds.md): wrapped commands (`kappa-node wrap`)
 * start without Node and without asking the daemon while the daemon's
 * published hint says this node is the best place for the next few jobs.
 * How many: the jobs that, started here one after another, would each still
 * be placed here by Algorithm II — own sysmetric, with the jobs before it
 * counted, at least the best neighbour's distribution metric (decideOrigin's
 * "local-is-best"). A burst on an idle node with idle neighbours therefore
 * starts here only as many jobs as here stays the best for; the next ones
 * ask the daemon, which probes and spreads them.
 *
 * `ownWith(k)`: this node's sysmetric with k more jobs started here
 * (undefined while unknown). `best`: the best live neighbour's distribution
 * metric, undefined when there is none (then every job runs here anyway).
 */
export function localSlots (ownWith: (extraJobs: number) => number | undefined, best: number | undefined, max: number): number {
  if (!(max > 0)) return 0
  if (best === undefined) return Math.floor(max)
  let slots = 0
  while (slots < max) {
    const own = ownWith(slots)
    if (own === undefined || !Number.isFinite(own) || own < best) break
    slots++
  }
  return slots
}

/**
 * The jobs an origin adds to its own when it weighs running a job here against
 * a neighbour: ORIGIN_YIELD_JOBS when its CPU (or cgroup quota) is saturated
 * (`busy`, 0–1: the metric's busyNow, the window's busy fraction raised by
 * the processes running now), else none.
 */
export function originExtraJobs (busy: number): number {
  return busy >= ORIGIN_SATURATED_BUSY ? ORIGIN_YIELD_JOBS : 0
}
