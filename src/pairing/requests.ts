import { MAX_PAIR_REQUESTS, MAX_PAIR_REQUESTS_PER_SOURCE, PAIR_REQUEST_TTL_MS } from '../constants.js'
import type { PairRequestInfo } from './index.js'

export interface RequestQueueInit {
  now?: () => number
  ttlMs?: number
  max?: number
  maxPerSource?: number
}

export type Admission =
  | { ok: true, fresh: boolean, evicted?: PairRequestInfo }
  | { ok: false, reason: string }

interface Pending extends PairRequestInfo {
  /** the address (IPv6: its /64) the request came from */
  source: string
}

/**
 * Pairing requests waiting for the owner's `accept`, bounded so that fresh
 * identities (free to make) cannot crowd out honest ones: at most a few per
 * source address, a short life, and when the queue is full a newcomer takes
 * the place of the oldest request from the source that holds the most — a
 * newcomer from that very source is refused instead. Invites never pass
 * through here: they always work.
 */
export class PairRequestQueue {
  private readonly pending = new Map<string, Pending>()
  private readonly now: () => number
  private readonly ttlMs: number
  private readonly max: number
  private readonly maxPerSource: number

  constructor (init: RequestQueueInit = {}) {
    this.now = init.now ?? Date.now
    this.ttlMs = init.ttlMs ?? PAIR_REQUEST_TTL_MS
    this.max = init.max ?? MAX_PAIR_REQUESTS
    this.maxPerSource = init.maxPerSource ?? MAX_PAIR_REQUESTS_PER_SOURCE
  }

  /** Record (or refresh the details of) a request from `request.id`, which came from `source`. */
  add (request: Omit<PairRequestInfo, 'receivedAt'>, source: string): Admission {
    this.prune()
    const known = this.pending.get(request.id)
    if (known != null) {
      // a repeated request updates what it says, not how long it lives
      this.pending.set(request.id, { ...known, alias: request.alias, addrs: request.addrs })
      return { ok: true, fresh: false }
    }
    const perSource = this.countBySource()
    const mine = perSource.get(source) ?? 0
    if (mine >= this.maxPerSource) return { ok: false, reason: 'too many pending pairing requests from your address; ask this node\'s owner for an invite line' }
    let evicted: Pending | undefined
    if (this.pending.size >= this.max) {
      evicted = this.evictionCandidate(perSource, mine + 1)
      if (evicted == null) return { ok: false, reason: 'too many pending pairing requests on this node; ask its owner for an invite line' }
      this.pending.delete(evicted.id)
    }
    this.pending.set(request.id, { ...request, receivedAt: this.now(), source })
    return { ok: true, fresh: true, evicted: evicted == null ? undefined : info(evicted) }
  }

  get (id: string): PairRequestInfo | undefined {
    this.prune()
    const p = this.pending.get(id)
    return p == null ? undefined : info(p)
  }

  /** By peer id, or by the alias it gave. */
  find (ref: string): PairRequestInfo | undefined {
    return this.get(ref) ?? this.list().find(r => r.alias === ref)
  }

  delete (id: string): void {
    this.pending.delete(id)
  }

  list (): PairRequestInfo[] {
    this.prune()
    return [...this.pending.values()].map(info)
  }

  /** The oldest request of the source holding the most, if that source holds at least as many as the newcomer's would. */
  private evictionCandidate (perSource: Map<string, number>, newcomerCount: number): Pending | undefined {
    let most = 0
    for (const n of perSource.values()) most = Math.max(most, n)
    if (newcomerCount > most) return undefined
    // in insertion order, so the first match is the oldest
    for (const p of this.pending.values()) if (perSource.get(p.source) === most) return p
    return undefined
  }

  private countBySource (): Map<string, number> {
    const counts = new Map<string, number>()
    for (const p of this.pending.values()) counts.set(p.source, (counts.get(p.source) ?? 0) + 1)
    return counts
  }

  private prune (): void {
    const now = this.now()
    for (const [id, p] of this.pending) if (now - p.receivedAt > this.ttlMs) this.pending.delete(id)
  }
}

function info (p: Pending): PairRequestInfo {
  return { id: p.id, alias: p.alias, addrs: p.addrs, receivedAt: p.receivedAt }
}
