/**
 * Pending-work accounting (SPEC §4, beyond the paper). A node that answered a
 * probe with a migration ticket counts that job as one more runnable process
 * until the job starts (the ticket is consumed) or the ticket expires. A burst
 * of probes then sees the node's metric drop at once instead of five seconds
 * later, and does not all pick the same node (paper Table III rows 8–9).
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
   * A sample whose window began at `windowStart` has seen the jobs that had
   * already started by then: stop counting them here, or they count twice.
   */
  sampled (windowStart: number): void
}

export function createPendingWork (init: PendingWorkInit = {}): PendingWorkTracker {
  const now = init.now ?? Date.now
  const tickets = new Map<string, number>()
  /** when a job counted here started running, for those that have */
  const startedAt = new Map<string, number>()

  /** Drop expired tickets; true when any was dropped. */
  const expire = (at: number): boolean => {
    let dropped = false
    for (const [id, expiresAt] of tickets) {
      if (expiresAt <= at) { tickets.delete(id); startedAt.delete(id); dropped = true }
    }
    return dropped
  }

  return {
    add (id, expiresAt, started) {
      if (!Number.isFinite(expiresAt)) throw new RangeError(`pending work ${id}: expiry must be a finite epoch-ms time`)
      const at = now()
      expire(at)
      if (expiresAt <= at) return // already expired: it would never count
      tickets.set(id, expiresAt)
      if (started !== undefined) startedAt.set(id, started)
      else startedAt.delete(id)
      init.onChange?.()
    },
    sampled (windowStart) {
      let dropped = false
      for (const [id, started] of startedAt) {
        if (started <= windowStart) { tickets.delete(id); startedAt.delete(id); dropped = true }
      }
      if (dropped) init.onChange?.()
    },
    consume (id) {
      startedAt.delete(id)
      const had = tickets.delete(id)
      const dropped = expire(now())
      if (had || dropped) init.onChange?.()
    },
    count (at) {
      expire(now())
      if (at === undefined) return tickets.size
      let n = 0
      for (const expiresAt of tickets.values()) if (expiresAt > at) n++
      return n
    },
    nextExpiry () {
      let next: number | undefined
      for (const expiresAt of tickets.values()) if (next === undefined || expiresAt < next) next = expiresAt
      return next
    }
  }
}
