import { KappaOverlay } from './overlay.js'
import type { Access } from '../access/index.js'
import type { TrustStore } from '../trust/index.js'
import type { TicketBook } from '../tickets/index.js'
import type { DaemonEvents } from '../events.js'
import type { JobRequirements, NeighbourView } from '../balance/index.js'
import type { ProbeResponse } from '../wire/probe.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

/**
 * The load-balancing overlay on libp2p: Algorithm I over `/kappa/metric/1`
 * and Algorithms II–III over `/kappa/probe/2`. The decisions are made by the
 * pure state machines in `src/balance` (the simulator runs the same code);
 * this layer only moves their messages, with deadlines and size limits.
 */
export interface OverlayComponents {
  /** the registrar and connection manager parts it uses: tests pass a stub */
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'getConnections' | 'getMultiaddrs'>
  /** the clock of its gossip table, probe deadlines and tickets (default Date.now) */
  now?: () => number
  trust: TrustStore
  access: Access
  events: DaemonEvents
  tickets: TicketBook
  /** this node's key: it signs the probes it sends as their origin */
  privateKey: PrivateKey
  /** this node's current sysmetric (pinned or measured); undefined until known */
  ownMetric: () => number | undefined
  /** this node's value as the origin of a job (Algorithm II and the bar its probe sets); default ownMetric */
  originMetric?: () => number | undefined
  /** can this node run a job with these needs (architecture, interpreter, memory, a free job slot) */
  meets: (requirements?: JobRequirements) => boolean
  /** why this node is full, if it is (said instead of "cannot meet requirements") */
  busy?: () => string | undefined
  /** a neighbour's value arrived or a neighbour expired (the placement hint follows them) */
  onNeighbourChange?: () => void
}

export interface OverlayInit {
  delayMs?: number
  c?: number
  splitHorizon?: boolean
  ttl?: number
  probeTimeoutMs?: number
  /** a relaying node offers itself when its fresh value beats the reply's target (default true) */
  relayOffers?: boolean
}

export interface NeighbourStatus extends Omit<NeighbourView, 'lastSeenMs'> {
  alias: string | null
  addrs: string[]
  connected: boolean
  /** ms since its last metric message, null if never heard */
  lastSeenMs: number | null
}

export interface OverlayStatus {
  sysmetric: number | null
  sendProbe: number | null
  delayMs: number
  c: number
  splitHorizon: boolean
  /** metric messages since start: sent, received, and triggered updates not sent because the value had not moved */
  messages: { sent: number, received: number, unchanged: number }
  neighbours: NeighbourStatus[]
}

export type ProbeOutcome =
  | { local: true, reason: string, own?: number, best?: { id: string, dismetric: number }, path?: string[], target?: { id: string, sysmetric: number } }
  | { local: false, path: string[], target: { id: string, sysmetric: number, addrs: string[] }, ticket: Uint8Array, ticketTtlMs: number }

/**
 * Carries the probe's first hop instead of a `/kappa/probe/2` stream: the
 * migration sends it inside the job's request, so a neighbour that is the
 * target admits the job in the same round trip (docs/builds.md).
 */
export interface ProbeCarrier {
  /** awaited once the probe is to go, before its deadline starts (the job it carries must be ready to send) */
  ready?: () => Promise<void>
  /** deliver `request` (an encoded ProbeRequest) to neighbour `to` and return its answer, an encoded ProbeResponse (or throw: the hop failed) */
  send: (to: string, request: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>
}

export interface Overlay {
  start (): Promise<void>
  stop (): Promise<void>
  status (): OverlayStatus
  /** the live neighbour with the best distribution metric (what Algorithm II compares with), if any */
  bestNeighbour (): { id: string, dismetric: number } | undefined
  /** this node's own value changed: gossip it now (rate-limited) rather than at the next tick */
  changed (): void
  /**
   * Algorithm II now: where should a job with these needs run? With `force`
   * (`run --remote`), take the best answer even if it is not better than here.
   */
  /** `carrier` takes the first hop (the job's own stream); default a probe stream */
  probe (requirements?: JobRequirements, force?: boolean, carrier?: ProbeCarrier): Promise<ProbeOutcome>
  /**
   * A probe from neighbour `remote` (an encoded ProbeRequest) that came some
   * other way than a probe stream (a job's request): decoded with the same
   * limits and answered as on the stream, within its own and this node's
   * deadline; a malformed one is declined. REPLY with this node as the
   * target holds a ticket for the origin.
   */
  answer (remote: string, request: Uint8Array): Promise<ProbeResponse>
}

export function createOverlay (components: OverlayComponents, init: OverlayInit = {}): Overlay {
  return new KappaOverlay(components, init)
}
