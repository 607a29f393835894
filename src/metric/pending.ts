/**
 * Pending-work accounting (SPEC §4, beyond the paper). A node that answered a
 * probe with a migration ticket, or told a local client to run a job, counts
 * that job as one more runnable process until the metric sees it running. A
 * burst of probes then sees the node's metric drop at once instead of five
 * seconds later, and does not all pick the same node (paper Table III rows
 * 8–9).
 *
 * When does a promised job stop counting here? Not after a fixed time: a job
 * still counted once it runs is counted twice (the node looks busier than it
 * is and a burst goes elsewhere), one dropped before it runs is not counted
 * at all. Instead the sampler reports every reading of the runnable
 * processes (`observe`), and a rise since the previous reading is taken as
 * promised jobs that have started, oldest first: they are in the reading
 * now. A job that may have started (`startedAt`, a local run or a used
 * ticket) can be matched that way; an unused ticket cannot. Every promise
 * also lapses at its `expiresAt` — a ticket nobody came back with, a job so
 * short that no reading caught it running.
 */
import type { PendingWork } from './index.js'

export interface PendingWorkInit {
  now?: () => number
  /** Called after every change of the count (add, consume, or an expiry noticed). */
  onChange?: () => void
}

export interface PendingWorkTracker extends PendingWork {
  /** The earliest expiry still pending (epoch ms), to schedule a recount. */
  nextExpiry (): number | undefined
  /**
   * The sampler read `runnable` runnable processes at `at`. A rise since the
   * previous reading is jobs counted here that have started (the oldest first):
   * they stop counting here, or they would count twice. Does not call onChange
   * (the caller recomputes with this reading anyway); true when any stopped counting.
   * `source` names what was counted (the cgroup's processes, the host's): a
   * reading of another source than the previous one only sets the baseline.
   */
  observe (runnable: number, at: number, source?: string): boolean
}

interface Promised {
  expiresAt: number
  /** from when the job may be running; undefined while it cannot be (an unused ticket) */
  startedAt?: number
}

export function createPendingWork (init: PendingWorkInit = {}): PendingWorkTracker {
  const now = init.now ?? Date.now
  /** in the order the jobs were first promised */
  const promised = new Map<string, Promised>()
  /** runnable processes at the previous reading, and what they were counted in */
  let lastRunnable: number | undefined
  let lastSource: string | undefined

  /** Drop expired promises; true when any was dropped. */
  const expire = (at: number): boolean => {
    let dropped = false
    for (const [id, p] of promised) {
      if (p.expiresAt <= at) { promised.delete(id); dropped = true }
    }
    return dropped
  }

  return {
    add (id, expiresAt, startedAt) {
      if (!Number.isFinite(expiresAt)) throw new RangeError(`pending work ${id}: expiry must be a finite epoch-ms time`)
      const at = now()
      expire(at)
      if (expiresAt <= at) return // already expired: it would never count
      promised.set(id, { expiresAt, startedAt })
      init.onChange?.()
    },
    observe (runnable, at, source) {
      if (!Number.isFinite(runnable)) return false
      let rise = lastRunnable === undefined || source !== lastSource ? 0 : runnable - lastRunnable
      lastRunnable = runnable
      lastSource = source
      let dropped = expire(at)
      for (const [id, p] of promised) {
        if (rise <= 0) break
        if (p.startedAt === undefined || p.startedAt > at) continue
        promised.delete(id)
        rise--
        dropped = true
      }
      return dropped
    },
    consume (id) {
      const had = promised.delete(id)
      const dropped = expire(now())
      if (had || dropped) init.onChange?.()
    },
    count (at) {
      expire(now())
      if (at === undefined) return promised.size
      let n = 0
      for (const p of promised.values()) if (p.expiresAt > at) n++
      return n
    },
    nextExpiry () {
      let next: number | undefined
      for (const p of promised.values()) if (next === undefined || p.expiresAt < next) next = p.expiresAt
      return next
    }
  }
}
