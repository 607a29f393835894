import { DEFAULT_C, DEFAULT_DELAY_MS, DEFAULT_EXPIRY_FACTOR, DEFAULT_MIN_RELAY_COST, DEFAULT_SPLIT_HORIZON, MAX_METRIC } from './constants.js'
import type { Gossip, GossipInit, MetricMessage, NeighbourView } from './index.js'

/** What this node knows about one neighbour. */
class Neighbour {
  advertised = 0
  sysmetric = 0
  seq = -1
  lastSeenMs = 0
  heard = false
  /** already reported by expire() for the current silence */
  expired = false

  constructor (readonly id: string) {}
}

function validMetric (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_METRIC
}

function checkPositive (name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`)
  return value
}

/**
 * Algorithm I (preliminary information gathering). Instead of the paper's
 * "collect for one delay, then reset max_dist", each neighbour's last value
 * stays valid until it has been silent for expiryFactor × delay; between
 * periods that is the same thing, and it survives a late message.
 */
export class MetricGossip implements Gossip {
  readonly config: Readonly<Required<GossipInit>>
  private readonly byId = new Map<string, Neighbour>()
  /** the same entries in insertion order; iterating an array is what the hot paths do */
  private list: Neighbour[] = []
  private readonly expiryMs: number
  /** what a value loses per hop when it is passed on: c, but never less than minRelayCost */
  private readonly relayCost: number
  private seq = -1

  constructor (init: GossipInit = {}) {
    const c = init.c ?? DEFAULT_C
    if (!Number.isFinite(c) || c < 0) throw new RangeError(`c must be a non-negative number, got ${c}`)
    const minRelayCost = init.minRelayCost ?? DEFAULT_MIN_RELAY_COST
    if (!Number.isFinite(minRelayCost) || minRelayCost < 0) throw new RangeError(`minRelayCost must be a non-negative number, got ${minRelayCost}`)
    this.config = Object.freeze({
      c,
      minRelayCost,
      delayMs: checkPositive('delayMs', init.delayMs ?? DEFAULT_DELAY_MS),
      expiryFactor: checkPositive('expiryFactor', init.expiryFactor ?? DEFAULT_EXPIRY_FACTOR),
      splitHorizon: init.splitHorizon ?? DEFAULT_SPLIT_HORIZON
    })
    this.expiryMs = this.config.delayMs * this.config.expiryFactor
    this.relayCost = Math.max(c, minRelayCost)
  }

  addNeighbour (id: string): void {
    if (this.byId.has(id)) return
    const entry = new Neighbour(id)
    this.byId.set(id, entry)
    this.list.push(entry)
  }

  removeNeighbour (id: string): void {
    if (!this.byId.delete(id)) return
    this.list = this.list.filter(entry => entry.id !== id)
  }

  isNeighbour (id: string): boolean {
    return this.byId.has(id)
  }

  isLive (id: string, now: number): boolean {
    const entry = this.find(id)
    return entry != null && this.live(entry, now)
  }

  private live (entry: Neighbour, now: number): boolean {
    return entry.heard && now - entry.lastSeenMs < this.expiryMs
  }

  /** nodes have a handful of neighbours: a scan beats hashing the id */
  private find (id: string): Neighbour | undefined {
    const list = this.list
    if (list.length > 16) return this.byId.get(id)
    for (let i = 0; i < list.length; i++) {
      if (list[i].id === id) return list[i]
    }
    return undefined
  }

  receive (from: string, msg: MetricMessage, now: number): boolean {
    const entry = this.find(from)
    if (entry == null || msg == null) return false
    const { sendProbe, sysmetric, seq } = msg
    if (!validMetric(sendProbe) || !validMetric(sysmetric) || sendProbe < sysmetric) return false
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return false
    // A neighbour silent past expiry may have restarted its numbering; accept it fresh.
    if (seq <= entry.seq && this.live(entry, now)) return false
    entry.advertised = sendProbe
    entry.sysmetric = sysmetric
    entry.seq = seq
    entry.lastSeenMs = now
    entry.heard = true
    entry.expired = false
    return true
  }

  outgoing (ownSysmetric: number, now: number): Array<{ to: string, msg: MetricMessage }> {
    // Sequence numbers follow the clock so that a restarted node (same peer id,
    // fresh state) is not ignored by neighbours that remember its old numbers.
    this.seq = Math.max(this.seq + 1, Math.floor(now))
    // What we pass on loses relayCost per hop (c, at least minRelayCost): with nothing lost
    // per hop a value that goes round a cycle of the overlay comes back as it left, and keeps
    // circulating after its source has dropped (count to infinity that never counts).
    const c = this.relayCost
    // Top two live dismetrics: with split horizon the value for the neighbour
    // that holds the maximum is the runner-up, for everyone else the maximum.
    let top: Neighbour | undefined
    let first = -Infinity
    let second = -Infinity
    for (const entry of this.list) {
      if (!this.live(entry, now)) continue
      const dist = entry.advertised - c
      if (dist > first) {
        second = first
        first = dist
        top = entry
      } else if (dist > second) {
        second = dist
      }
    }
    // Never advertise something neighbours would reject.
    const own = Number.isNaN(ownSysmetric) ? 0 : Math.min(MAX_METRIC, Math.max(0, ownSysmetric))
    const all: MetricMessage = { sendProbe: Math.max(own, first), sysmetric: own, seq: this.seq }
    const withoutTop: MetricMessage = this.config.splitHorizon
      ? { sendProbe: Math.max(own, second), sysmetric: own, seq: this.seq }
      : all
    const out = new Array<{ to: string, msg: MetricMessage }>(this.list.length)
    for (let i = 0; i < this.list.length; i++) {
      const entry = this.list[i]
      out[i] = { to: entry.id, msg: entry === top ? withoutTop : all }
    }
    return out
  }

  expire (now: number): string[] {
    const dropped: string[] = []
    for (const entry of this.list) {
      if (entry.heard && !entry.expired && !this.live(entry, now)) {
        entry.expired = true
        dropped.push(entry.id)
      }
    }
    return dropped
  }

  best (now: number, exclude?: ReadonlySet<string> | readonly string[]): { id: string, dismetric: number } | undefined {
    let best: Neighbour | undefined
    let bestAdvertised = -Infinity
    const set = exclude != null && !Array.isArray(exclude) ? exclude as ReadonlySet<string> : undefined
    const array = exclude != null && Array.isArray(exclude) ? exclude as readonly string[] : undefined
    for (const entry of this.list) {
      if (entry.advertised <= bestAdvertised || !this.live(entry, now)) continue
      if (set?.has(entry.id) === true || array?.includes(entry.id) === true) continue
      best = entry
      bestAdvertised = entry.advertised
    }
    return best == null ? undefined : { id: best.id, dismetric: best.advertised - this.config.c }
  }

  maxDist (now: number): number {
    let max = 0
    for (const entry of this.list) {
      if (this.live(entry, now)) max = Math.max(max, entry.advertised - this.relayCost)
    }
    return max
  }

  sendProbe (ownSysmetric: number, now: number): number {
    return Math.max(ownSysmetric, this.maxDist(now))
  }

  view (now: number): NeighbourView[] {
    const out: NeighbourView[] = []
    for (const entry of this.list) {
      if (!entry.heard) continue
      out.push({
        id: entry.id,
        advertised: entry.advertised,
        sysmetric: entry.sysmetric,
        dismetric: entry.advertised - this.config.c,
        lastSeenMs: entry.lastSeenMs,
        seq: entry.seq,
        live: this.live(entry, now)
      })
    }
    return out
  }
}
