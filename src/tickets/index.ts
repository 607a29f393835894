import { randomBytes, timingSafeEqual } from 'node:crypto'
import { MAX_HELD_TICKETS_PER_RELAY, MAX_TICKETS_PER_RELAY, TICKET_HOLD_MS, TICKET_TTL_MS } from '../constants.js'

export { proveOrigin, verifyOrigin } from './origin.js'

/**
 * Migration tickets (SPEC §3): a node that answers a probe as its target
 * issues one to the probe's origin. Random, single use, bound to the origin's
 * peer id, short-lived. A non-neighbour holding one may connect and use
 * /kappa/migrate/1 once: the chain of paired links that carried the probe
 * vouches for it.
 *
 * The origin is one that signed the probe for its first hop (origin.ts), so
 * no peer can have tickets issued to an identity it made up. Each ticket also
 * records the neighbour that relayed the probe here: the tickets a neighbour
 * has out unused are capped, and only a few of them, for a few seconds,
 * hold one of this node's job slots — an unused promise must not make the
 * node answer "busy" to everyone else.
 */
export interface Ticket {
  id: string
  secret: Uint8Array
  origin: string
  /** the neighbour the probe came from (the origin itself when it asked directly) */
  via: string
  /** the probe it answered: one ticket per probe */
  probe: string
  issuedAt: number
  expiresAt: number
}

/** Expired tickets are remembered this long, so a late holder is told "expired", not "unknown". */
const EXPIRED_MEMORY_MS = 60_000

export type IssueTicketResult = { ok: true, ticket: Ticket } | { ok: false, reason: string }
export type RedeemTicketResult = { ok: true, ticket: Ticket } | { ok: false, reason: string }

export interface TicketBookInit {
  ttlMs?: number
  /** how long an unused ticket holds a job slot (default TICKET_HOLD_MS) */
  holdMs?: number
  /** unused, unexpired tickets out through one neighbour, at most (default MAX_TICKETS_PER_RELAY) */
  maxPerRelay?: number
  /** of those, how many hold a job slot at once (default MAX_HELD_TICKETS_PER_RELAY) */
  maxHeldPerRelay?: number
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
  private readonly holdMs: number
  private readonly maxPerRelay: number
  private readonly maxHeldPerRelay: number
  private readonly now: () => number

  constructor (private readonly init: TicketBookInit = {}) {
    this.ttlMs = init.ttlMs ?? TICKET_TTL_MS
    this.holdMs = Math.min(init.holdMs ?? TICKET_HOLD_MS, this.ttlMs)
    this.maxPerRelay = init.maxPerRelay ?? MAX_TICKETS_PER_RELAY
    this.maxHeldPerRelay = init.maxHeldPerRelay ?? MAX_HELD_TICKETS_PER_RELAY
    this.now = init.now ?? Date.now
  }

  /**
   * A ticket for `origin`, answering probe `probe` that neighbour `via`
   * brought here; refused when `via` has too many unused tickets out, or this
   * probe already has one (a replayed probe).
   */
  issue (origin: string, via: string = origin, probe: string = randomBytes(8).toString('hex')): IssueTicketResult {
    this.prune()
    let out = 0
    for (const t of this.live()) {
      if (t.origin === origin && t.probe === probe) return { ok: false, reason: 'this probe already has a migration ticket' }
      if (t.via === via) out++
    }
    if (out >= this.maxPerRelay) return { ok: false, reason: `too many unused migration tickets through ${via} (${out}); try again when they are used or expire` }
    const secret = randomBytes(24)
    const now = this.now()
    const ticket: Ticket = { id: secret.subarray(0, 8).toString('hex'), secret, origin, via, probe, issuedAt: now, expiresAt: now + this.ttlMs }
    this.tickets.set(ticket.id, ticket)
    this.init.onIssue?.(ticket)
    return { ok: true, ticket }
  }

  /** An unexpired, unused ticket issued to this peer exists: let it connect. */
  holds (origin: string): boolean {
    for (const t of this.live()) if (t.origin === origin) return true
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

  /**
   * Unused tickets that hold a job slot now (the migration's free-slot
   * check adds them to the running jobs): issued within the hold time, and
   * at most a few per relaying neighbour.
   */
  outstanding (): number {
    this.prune()
    const now = this.now()
    const held = new Map<string, number>()
    for (const t of this.live()) {
      if (now - t.issuedAt >= this.holdMs) continue
      held.set(t.via, Math.min(this.maxHeldPerRelay, (held.get(t.via) ?? 0) + 1))
    }
    let n = 0
    for (const count of held.values()) n += count
    return n
  }

  /** Unused, unexpired tickets. */
  private * live (): Iterable<Ticket> {
    const now = this.now()
    for (const t of this.tickets.values()) if (now <= t.expiresAt && !this.expired.has(t.id)) yield t
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
