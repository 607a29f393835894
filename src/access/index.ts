import { MAX_STRANGER_CONNECTIONS, MAX_STRANGER_CONNECTIONS_PER_SOURCE } from '../constants.js'
import type { TrustStore } from '../trust/index.js'
import type { ConnectionGater, PeerId, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Who may do what (SPEC §3):
 * - `paired`: metric and probe streams, neighbours only;
 * - `paired-or-ticket`: migration, also a non-neighbour holding a ticket we issued;
 * - `anyone`: the pairing protocol, which guards itself (rate limit, tokens).
 */
export type AccessRule = 'paired' | 'paired-or-ticket' | 'anyone'

export interface AccessInit {
  /** Strangers may connect to ask for pairing (policy switch, default on). */
  acceptPairRequests: boolean
}

export interface AccessComponents {
  trust: TrustStore
  /** Unused, unexpired invites: strangers may connect to redeem one. */
  outstandingInvites: () => number
  /** Open connections from peers that are neither paired nor expected; from one source (see sourceOf) when given. */
  strangerConnections: (source?: string) => number
  /** A peer holding a migration ticket this node issued. */
  holdsTicket?: (peer: string) => boolean
  log: (line: string) => void
}

export interface Access {
  /** The libp2p connection gater: runs only when a connection is set up. */
  readonly gater: ConnectionGater
  isPaired (peer: PeerId | string): boolean
  /** Paired, expected, or holding a ticket: not a stranger. */
  isKnown (peer: PeerId | string): boolean
  /** Let a specific peer through the gater for a while (a pairing exchange we started, a migration target). */
  expect (peer: PeerId | string, forMs: number): void
  unexpect (peer: PeerId | string): void
  /** Wrap a protocol handler so every stream re-checks its remote peer: connections outlive un-pairing. */
  guard (protocol: string, rule: AccessRule, handler: StreamHandler): StreamHandler
}

export function createAccess (components: AccessComponents, init: AccessInit): Access {
  return new PeerAccess(components, init)
}

const REFUSAL_LOG_INTERVAL_MS = 60_000

class PeerAccess implements Access {
  private readonly expected = new Map<string, number>()
  private readonly lastRefusalLog = new Map<string, number>()
  readonly gater: ConnectionGater

  constructor (private readonly components: AccessComponents, private readonly init: AccessInit) {
    // Dials to addresses without /p2p/<id> (what mDNS yields) skip denyDialPeer,
    // so outbound is also checked once the remote is authenticated.
    this.gater = {
      denyDialPeer: (peerId) => !this.isKnown(peerId),
      denyOutboundEncryptedConnection: (peerId) => !this.isKnown(peerId),
      denyInboundEncryptedConnection: (peerId, maConn) => !this.mayConnectInbound(peerId, sourceOf(maConn.remoteAddr))
    }
  }

  isPaired (peer: PeerId | string): boolean {
    return this.components.trust.has(peer.toString())
  }

  isKnown (peer: PeerId | string): boolean {
    const id = peer.toString()
    if (this.components.trust.has(id)) return true
    const until = this.expected.get(id)
    if (until != null) {
      if (Date.now() <= until) return true
      this.expected.delete(id)
    }
    return this.components.holdsTicket?.(id) === true
  }

  expect (peer: PeerId | string, forMs: number): void {
    const id = peer.toString()
    const until = Date.now() + forMs
    this.expected.set(id, Math.max(until, this.expected.get(id) ?? 0))
  }

  unexpect (peer: PeerId | string): void {
    this.expected.delete(peer.toString())
  }

  private mayConnectInbound (peerId: PeerId, source: string): boolean {
    if (this.isKnown(peerId)) return true
    const pairingPossible = this.init.acceptPairRequests || this.components.outstandingInvites() > 0
    if (!pairingPossible) {
      this.logRefusal(peerId.toString(), 'connection', 'not paired, and no invite or pairing request is open')
      return false
    }
    if (this.components.strangerConnections() >= MAX_STRANGER_CONNECTIONS) {
      this.logRefusal(peerId.toString(), 'connection', 'too many connections from unpaired peers')
      return false
    }
    // fresh identities are free: one address must not take every stranger's place
    if (this.components.strangerConnections(source) >= MAX_STRANGER_CONNECTIONS_PER_SOURCE) {
      this.logRefusal(source, 'connection', 'too many connections from unpaired peers at this address')
      return false
    }
    return true
  }

  guard (protocol: string, rule: AccessRule, handler: StreamHandler): StreamHandler {
    return async (stream, connection) => {
      const remote = connection.remotePeer.toString()
      const allowed = rule === 'anyone' ||
        this.isPaired(remote) ||
        (rule === 'paired-or-ticket' && this.components.holdsTicket?.(remote) === true)
      if (!allowed) {
        this.logRefusal(remote, protocol, rule === 'paired' ? 'not paired' : 'not paired and no valid ticket')
        stream.abort(new Error(`refused: ${remote} is not paired with this node`))
        // a stranger has no business here beyond pairing
        if (!this.isKnown(remote)) await connection.close().catch(() => connection.abort(new Error('refused')))
        return
      }
      await handler(stream, connection)
    }
  }

  /** One line per peer and kind per minute: a stranger hammering us must not flood the log. */
  private logRefusal (peer: string, what: string, why: string): void {
    const key = `${peer} ${what}`
    const now = Date.now()
    const last = this.lastRefusalLog.get(key)
    if (last != null && now - last < REFUSAL_LOG_INTERVAL_MS) return
    if (this.lastRefusalLog.size > 1000) this.lastRefusalLog.clear()
    this.lastRefusalLog.set(key, now)
    this.components.log(`refused ${what} from ${peer}: ${why}`)
  }
}

/**
 * Where a connection comes from, for per-source limits: the IPv4 address,
 * the /64 of an IPv6 address (one host is given a whole /64), else the
 * address as a whole.
 */
export function sourceOf (ma: Multiaddr | undefined): string {
  const first = ma?.getComponents()[0]
  if (first?.name === 'ip4' && first.value != null) return first.value
  if (first?.name === 'ip6' && first.value != null) return `${ipv6Prefix64(first.value)}::/64`
  return ma?.toString() ?? 'unknown'
}

function ipv6Prefix64 (ip: string): string {
  const [head, tail = ''] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')
}
