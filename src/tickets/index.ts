import { randomBytes, timingSafeEqual } from 'node:crypto'
import { TICKET_TTL_MS } from '../constants.js'

/**
 * Migration tickets (SPEC §3): a node that answers a probe as its target
 * issues one to the probe's origin. Random, single use, bound to the origin's
 * peer id, short-lived. A non-neighbour holding one may connect and use
 * /kappa/migrate/1 once: the chain of paired links that carried the probe
 * vouches for it.
 */
export interface Ticket {
  id: string
  secret: Uint8Array
  origin: string
  expiresAt: number
}

/** Expired tickets are remembered this long, so a late holder is told "expired", not "unknown". */
const EXPIRED_MEMORY_MS = 60_000

export type RedeemTicketResult = { ok: true, ticket: Ticket } | { ok: false, reason: string }

export interface TicketBookInit {
  ttlMs?: number
  now?: () => number
  /** pending-work accounting: a ticket counts as a job until used or expired */
  onIssue?: (ticket: Ticket) => void
  onSettle?: (ticket: Ticket, how: 'used' | 'expired') => void
}

export class TicketBook {
  private readonly tickets = new Map<string, Ticket>()
  /** expired, not yet forgotten; pending-work accounting already settled */
  private readonly expired = new Set<string>()
  private readonly ttlMs: number
  private readonly now: () => number

  constructor (private readonly init: TicketBookInit = {}) {
    this.ttlMs = init.ttlMs ?? TICKET_TTL_MS
    this.now = init.now ?? Date.now
  }

  issue (origin: string): Ticket {
    this.prune()
    const secret = randomBytes(24)
    const ticket: Ticket = { id: secret.subarray(0, 8).toString('hex'), secret, origin, expiresAt: this.now() + this.ttlMs }
    this.tickets.set(ticket.id, ticket)
    this.init.onIssue?.(ticket)
    return ticket
  }

  /** An unexpired, unused ticket issued to this peer exists: let it connect. */
  holds (origin: string): boolean {
    const now = this.now()
    for (const t of this.tickets.values()) if (t.origin === origin && now <= t.expiresAt) return true
    return false
  }

  /** Spend a ticket: it must be ours, unused, unexpired and issued to `origin`. */
  redeem (origin: string, secret: Uint8Array): RedeemTicketResult {
    const id = Buffer.from(secret.subarray(0, 8)).toString('hex')
    this.prune()
    const ticket = this.tickets.get(id)
    if (ticket == null || secret.length !== ticket.secret.length || !timingSafeEqual(secret, ticket.secret)) {
      return { ok: false, reason: 'unknown or already used migration ticket' }
    }
    if (ticket.origin !== origin) return { ok: false, reason: 'migration ticket was issued to another peer' }
    this.tickets.delete(id)
    if (this.expired.delete(id)) return { ok: false, reason: 'migration ticket expired' }
    this.init.onSettle?.(ticket, 'used')
    return { ok: true, ticket }
  }

  outstanding (): number {
    this.prune()
    return this.tickets.size - this.expired.size
  }

  private prune (): void {
    const now = this.now()
    for (const [id, t] of this.tickets) {
      if (now > t.expiresAt && !this.expired.has(id)) {
        this.expired.add(id)
        this.init.onSettle?.(t, 'expired')
      }
      if (now > t.expiresAt + EXPIRED_MEMORY_MS) {
        this.tickets.delete(id)
        this.expired.delete(id)
      }
    }
  }
}
