import { peerIdFromString } from '@libp2p/peer-id'
import { RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '../constants.js'
import type { Libp2p } from '@libp2p/interface'
import type { TrustStore } from '../trust/index.js'

/**
 * Keeps paired peers connected: the one reconnect mechanism (paired peers are
 * not tagged KEEP_ALIVE, whose libp2p reconnect queue gives up after a few
 * retries). A machine that was off for an hour must still come back, so this
 * dials at start and redials with capped backoff forever.
 */
export class Reconnector {
  private timer?: NodeJS.Timeout
  private readonly backoff = new Map<string, { next: number, delay: number }>()
  private readonly dialing = new Set<string>()

  constructor (private readonly components: { libp2p: Libp2p, trust: TrustStore }) {}

  start (): void {
    this.tick()
    this.timer = setInterval(() => { this.tick() }, RECONNECT_MIN_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  private tick (): void {
    const { libp2p, trust } = this.components
    const now = Date.now()
    for (const peer of trust.list()) {
      const peerId = peerIdFromString(peer.id)
      if (libp2p.getConnections(peerId).length > 0) {
        this.backoff.delete(peer.id)
        continue
      }
      const state = this.backoff.get(peer.id) ?? { next: 0, delay: RECONNECT_MIN_MS }
      if (now < state.next || this.dialing.has(peer.id) || peer.addrs.length === 0) continue
      this.dialing.add(peer.id)
      libp2p.dial(peerId, { signal: AbortSignal.timeout(10_000) })
        .then(() => { this.backoff.delete(peer.id) })
        .catch(() => {
          const delay = Math.min(RECONNECT_MAX_MS, state.delay * 2)
          this.backoff.set(peer.id, { next: Date.now() + delay, delay })
        })
        .finally(() => { this.dialing.delete(peer.id) })
    }
  }
}
