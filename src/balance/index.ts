/**
 * @packageDocumentation
 *
 * Load balancing of the Kappa paper (§IV.B–C) as pure, transport-free state
 * machines. Inputs are messages and a clock value `now` (milliseconds, the
 * same clock for every call on one node; the node passes `Date.now()` so
 * sequence numbers keep rising across restarts); outputs are messages to send
 * and decisions. No timers, no I/O: the libp2p node and the simulator in
 * `src/sim` drive the very same code.
 *
 * - Algorithm I (`/kappa/metric/1`): {@link createGossip}. Every `delay` the
 *   node calls `outgoing()` and sends each message; on receipt it calls
 *   `receive()`. Neighbours silent for `expiryFactor × delay` stop counting.
 * - Algorithm II (probe send): {@link decideOrigin}.
 * - Algorithm III (probe propagate / reply): {@link propagate}; the origin
 *   then judges the reply with {@link acceptReply}. No reply before the
 *   deadline means "run locally" (the caller owns the deadline).
 *
 * Node ids are opaque strings (peer id strings in the node).
 */

import { MetricGossip } from './gossip.js'

export * from './constants.js'
export { localSlots, originExtraJobs } from './hint.js'
export { decideOrigin, propagate, acceptReply, relayReply, validateProbe, validateReply, validateRequirements } from './probe.js'

/** Algorithm I payload: the sender's send_probe, its own sysmetric, a sequence number. */
export interface MetricMessage {
  /** max(own sysmetric, max_dist) — with split horizon, computed without what was learned from the recipient */
  sendProbe: number
  /** the sender's own current sysmetric (for status displays; never above sendProbe) */
  sysmetric: number
  /** strictly increasing per sender; older or repeated messages are ignored */
  seq: number
}

export interface GossipInit {
  /** per-hop overhead constant, default DEFAULT_C (0; the paper's is PAPER_C, 15) */
  c?: number
  /** gossip period in ms, default 5000 */
  delayMs?: number
  /** a neighbour silent for expiryFactor × delayMs is dropped from routing, default 3 */
  expiryFactor?: number
  /** default true; false is paper-faithful */
  splitHorizon?: boolean
  /**
   * what a value passed on loses per hop at least, default 5
   * (DEFAULT_MIN_RELAY_COST): max(c, this) is subtracted when relaying, so
   * that values cannot circulate round a cycle when c is 0
   */
  minRelayCost?: number
}

export interface NeighbourView {
  id: string
  /** last send_probe received from it */
  advertised: number
  /** its own sysmetric as it last reported it */
  sysmetric: number
  /** advertised − c: what running a job through this neighbour is worth */
  dismetric: number
  /** `now` of the last accepted message */
  lastSeenMs: number
  seq: number
  /** heard within expiryFactor × delay, so it counts for routing */
  live: boolean
}

/** Algorithm I state of one node. */
export interface Gossip {
  /** the options in force, defaults filled in */
  readonly config: Readonly<Required<GossipInit>>
  /** a paired neighbour; it counts for routing once a message from it arrives */
  addNeighbour (id: string): void
  removeNeighbour (id: string): void
  /**
   * Accept a message from neighbour `from`. Returns false (and changes
   * nothing) for unknown neighbours, non-finite, negative or absurd values,
   * sendProbe below sysmetric, and sequence numbers not above the last one
   * (a neighbour that was silent past expiry may restart its numbering).
   */
  receive (from: string, msg: MetricMessage, now: number): boolean
  /** Algorithm I steps 9–11 and 3: the message for each neighbour, live or not */
  outgoing (ownSysmetric: number, now: number): Array<{ to: string, msg: MetricMessage }>
  /** neighbours that went silent for expiryFactor × delay since the last call (each reported once) */
  expire (now: number): string[]
  /** live neighbour with the highest dismetric, skipping `exclude`; ties go to the earliest added */
  best (now: number, exclude?: ReadonlySet<string> | readonly string[]): { id: string, dismetric: number } | undefined
  /** max_dist of Algorithm I: highest value passed on (advertised − max(c, minRelayCost)) over live neighbours, 0 when there is none (the paper's initial value) */
  maxDist (now: number): number
  /** send_probe as the paper defines it: max(own, maxDist) */
  sendProbe (ownSysmetric: number, now: number): number
  isNeighbour (id: string): boolean
  isLive (id: string, now: number): boolean
  /** every neighbour heard from at least once */
  view (now: number): NeighbourView[]
}

export function createGossip (init: GossipInit = {}): Gossip {
  return new MetricGossip(init)
}

/** What a job needs from the machine that runs it (SPEC §5, beyond the paper). */
export interface JobRequirements {
  /** `uname -m` style, e.g. 'x86_64' */
  arch?: string
  /** interpreter of a script, e.g. '/usr/bin/python3' */
  interpreter?: string
  minFreeMemKiB?: number
  /**
   * hex sha256 of the executable's toolchain manifest (docs/toolchain.md):
   * the list itself travels with the job; a node of the same architecture
   * that lacks some of those files gets them from the origin, so it does
   * not refuse for this
   */
  toolchain?: string
}

/** P(i, j, k) of the paper, plus id, path, TTL and requirements. */
export interface Probe {
  /** chosen by the origin; ties the reply to the request */
  id: string
  /** i: the node whose job this is */
  origin: string
  /** j: the node that sent this copy (= last path entry) */
  sender: string
  /** nodes visited so far, origin first, sender last */
  path: string[]
  /** further hops allowed after this delivery: the origin sends ttl − 1, a node may forward only while ttl > 0 */
  ttl: number
  requirements?: JobRequirements
  /**
   * The value to beat (beyond the paper): the origin's own fresh sysmetric
   * when it sent the probe, raised by each relay that would offer itself
   * instead (to its own value − c, see PropagateOptions.relayOffers). The
   * node that would reply declines instead when it is not better by more
   * than c, so it issues no ticket — and counts no pending job — for a
   * reply the origin or a relay would refuse. Absent for `run --remote`
   * until a relay that offers itself sets it.
   */
  originSysmetric?: number
}

/** PR(k, i, sysmetric_k) of the paper; it travels back along `path`. */
export interface ProbeReply {
  id: string
  /** k: the node offering to run the job */
  target: string
  /** k's own sysmetric when it replied */
  sysmetric: number
  /** origin … target */
  path: string[]
}

/** Why the origin runs the job itself without probing. */
export type LocalReason = 'no-live-neighbour' | 'local-is-best'

/** Why a node refuses to handle a probe; the caller relays it to the origin, which then runs locally. */
export type DeclineReason =
  | 'malformed' // wrong types, empty or oversized ids, bad requirements
  | 'ttl-out-of-range' // negative, non-integer, above the cap, or inconsistent with the path length
  | 'path-too-long'
  | 'forged-path' // path does not start at origin, does not end at sender, or repeats a node
  | 'sender-mismatch' // the connection's peer is not the probe's sender
  | 'not-a-live-neighbour'
  | 'loop' // this node is already on the path
  | 'cannot-meet-requirements' // and no neighbour off the path to forward to, or TTL spent
  | 'not-better-than-origin' // the best node found would not beat running at the origin: no ticket is spent on it

/** Algorithm II. */
export type OriginDecision =
  | { kind: 'local', reason: LocalReason }
  | { kind: 'probe', to: string, probe: Probe }

/** Algorithm III. */
export type PropagateDecision =
  | { kind: 'reply', reply: ProbeReply }
  | { kind: 'forward', to: string, probe: Probe }
  | { kind: 'decline', reason: DeclineReason }

export interface OriginOptions {
  /** probe id, unique per origin */
  id: string
  /** hops the probe may travel, default 8, at most MAX_TTL */
  ttl?: number
  requirements?: JobRequirements
  /**
   * `run --remote`: probe the best neighbour even when this node looks at
   * least as good, and let any node that can run the job answer (the probe
   * carries no originSysmetric to beat).
   */
  force?: boolean
}

export interface PropagateOptions {
  /**
   * Skip neighbours already on the probe's path when choosing the next hop
   * (default true). false is the paper's Algorithm III: the probe may be sent
   * back to a node it visited, which then declines it as a loop.
   */
  avoidPath?: boolean
  /** largest TTL accepted, default MAX_TTL */
  maxTtl?: number
  /**
   * This node offers itself on the way back when the reply it relays is
   * worse than its own value (relayReply; default false, the paper's relay
   * only passes replies on). A probe it forwards then asks the next node to
   * beat this one as well (originSysmetric raised to own − c), so no node
   * issues a ticket, and counts a promised job, for a reply this one would
   * replace.
   */
  relayOffers?: boolean
}
