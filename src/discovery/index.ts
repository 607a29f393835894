import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { TrustStore } from '../trust/index.js'
import type { DaemonEvents } from '../events.js'

export interface NearbyPeer {
  id: string
  addrs: string[]
  lastSeenMs: number
}

export interface NearbyComponents {
  /** its own id, and the mDNS service whose events it hears */
  libp2p: Pick<Libp2p<{ mdns?: unknown }>, 'peerId' | 'services'>
  trust: TrustStore
  events: DaemonEvents
}

export interface NearbyInit {
  /** mDNS query interval; a peer unseen for 3 intervals is no longer nearby. */
  intervalMs: number
}

/**
 * Unpaired kappa nodes announced on the LAN. mDNS only suggests: nothing here
 * dials or pairs. libp2p's `peer:discovery` fires only for peers new to the
 * peer store, so the live list listens to the mDNS service's own repeated
 * `peer` events.
 */
export class Nearby {
  private readonly seen = new Map<string, { addrs: string[], at: number }>()
  private readonly announced = new Set<string>()

  constructor (private readonly components: NearbyComponents, private readonly init: NearbyInit) {}

  start (): void {
    const mdns = this.components.libp2p.services.mdns as EventTarget | undefined
    mdns?.addEventListener('peer', (evt) => { this.onPeer((evt as CustomEvent<PeerInfo>).detail) })
  }

  private onPeer (info: PeerInfo): void {
    const id = info.id.toString()
    if (id === this.components.libp2p.peerId.toString()) return
    this.seen.set(id, { addrs: info.multiaddrs.map(a => a.toString()), at: Date.now() })
    if (this.components.trust.has(id) || this.announced.has(id)) return
    this.announced.add(id)
    this.components.events.emit({ type: 'discovered', id, addrs: info.multiaddrs.map(a => `${a.toString()}/p2p/${id}`) })
  }

  list (): NearbyPeer[] {
    const now = Date.now()
    const out: NearbyPeer[] = []
    for (const [id, s] of this.seen) {
      if (now - s.at > 3 * this.init.intervalMs) {
        this.seen.delete(id)
        this.announced.delete(id)
        continue
      }
      if (this.components.trust.has(id)) continue
      out.push({ id, addrs: s.addrs.map(a => `${a}/p2p/${id}`), lastSeenMs: now - s.at })
    }
    return out
  }
}
