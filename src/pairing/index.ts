import { PairingService } from './service.js'
import type { Access } from '../access/index.js'
import type { TrustStore } from '../trust/index.js'
import type { InviteBook } from './invites.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { DaemonEvents } from '../events.js'

export { InviteBook, formatInvite, parsePairTarget, peerIdOf } from './invites.js'
export type { PairTarget } from './invites.js'

export interface PairingComponents {
  /** the registrar, dialer, connection manager and peer store parts it uses */
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'getConnections' | 'getMultiaddrs' | 'dialProtocol' | 'hangUp' | 'peerStore'>
  trust: TrustStore
  invites: InviteBook
  access: Access
  events: DaemonEvents
  /** the clock (tests move it) */
  now?: () => number
}

export interface PairingInit {
  /** This node's name for itself, sent to peers as a suggested alias. */
  alias?: string
  acceptPairRequests: boolean
}

/** An incoming request waiting for the owner's `accept`. */
export interface PairRequestInfo {
  id: string
  alias?: string
  addrs: string[]
  receivedAt: number
}

export interface PairResult {
  status: 'paired' | 'pending'
  id: string
  alias?: string
}

export interface Pairing {
  start (): Promise<void>
  stop (): Promise<void>
  /** `pair <invite-line | multiaddr>` */
  pair (arg: string, alias?: string, options?: AbortOptions): Promise<PairResult>
  accept (ref: string, alias?: string, options?: AbortOptions): Promise<PairResult>
  unpair (ref: string, options?: AbortOptions): Promise<{ id: string, alias?: string, notified: boolean }>
  requests (): PairRequestInfo[]
  /** Strangers with outstanding requests to us, or ours to them. */
  hasOutgoingRequest (peer: string): boolean
}

export function createPairing (components: PairingComponents, init: PairingInit): Pairing {
  return new PairingService(components, init)
}
