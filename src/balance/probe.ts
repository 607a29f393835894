import { DEFAULT_C, DEFAULT_TTL, MAX_ID_LENGTH, MAX_METRIC, MAX_REQUIREMENT_LENGTH, MAX_TTL } from './constants.js'
import type { DeclineReason, Gossip, JobRequirements, OriginDecision, OriginOptions, Probe, ProbeReply, PropagateDecision, PropagateOptions } from './index.js'

function validId (value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH
}

function validMetric (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_METRIC
}

/** Non-empty, bounded, no repeats. Paths are at most MAX_TTL + 1 long, so the quadratic check is cheap. */
function validPath (path: unknown, maxLength: number): 'malformed' | 'path-too-long' | 'forged-path' | undefined {
  if (!Array.isArray(path) || path.length === 0) return 'malformed'
  if (path.length > maxLength) return 'path-too-long'
  for (let i = 0; i < path.length; i++) {
    if (!validId(path[i])) return 'malformed'
    for (let j = 0; j < i; j++) {
      if (path[j] === path[i]) return 'forged-path'
    }
  }
  return undefined
}

/** Reason the requirements are unusable, or undefined when they are fine (or absent). */
export function validateRequirements (r: unknown): 'malformed' | undefined {
  if (r == null) return undefined
  if (typeof r !== 'object') return 'malformed'
  const { arch, interpreter, minFreeMemKiB, toolchain } = r as JobRequirements
  if (toolchain != null && (typeof toolchain !== 'string' || !/^[0-9a-f]{64}$/.test(toolchain))) return 'malformed'
  if (arch != null && (typeof arch !== 'string' || arch.length > MAX_REQUIREMENT_LENGTH)) return 'malformed'
  if (interpreter != null && (typeof interpreter !== 'string' || interpreter.length > MAX_REQUIREMENT_LENGTH)) return 'malformed'
  if (minFreeMemKiB != null && (typeof minFreeMemKiB !== 'number' || !Number.isFinite(minFreeMemKiB) || minFreeMemKiB < 0)) return 'malformed'
  return undefined
}

/**
 * Structural checks on a probe from the network: types, id sizes, the path
 * runs origin … sender without repeats, and the TTL is a non-negative integer
 * that, with the hops already taken, stays within `maxTtl`.
 */
export function validateProbe (probe: Probe, maxTtl: number = MAX_TTL): DeclineReason | undefined {
  if (probe == null || typeof probe !== 'object') return 'malformed'
  if (!validId(probe.id) || !validId(probe.origin) || !validId(probe.sender)) return 'malformed'
  if (validateRequirements(probe.requirements) != null) return 'malformed'
  const pathProblem = validPath(probe.path, maxTtl + 1)
  if (pathProblem != null) return pathProblem
  const { ttl, path } = probe
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0 || ttl > maxTtl) return 'ttl-out-of-range'
  // Total hops = taken before the sender (path.length − 1) + the delivering hop + ttl left.
  if (path.length + ttl > maxTtl) return 'ttl-out-of-range'
  if (path[0] !== probe.origin || path[path.length - 1] !== probe.sender) return 'forged-path'
  if (probe.originSysmetric !== undefined && !validMetric(probe.originSysmetric)) return 'malformed'
  return undefined
}

/**
 * Structural checks on a reply against the probe this node sent (the origin's
 * own probe, or the copy a relay forwarded to `to`): same id, the path extends
 * the one sent through `to` and ends at the target, the metric is sane.
 */
export function validateReply (reply: ProbeReply, sent: Probe, to: string, maxTtl: number = MAX_TTL): 'malformed' | 'path-too-long' | 'forged-path' | 'wrong-probe' | undefined {
  if (reply == null || typeof reply !== 'object') return 'malformed'
  if (reply.id !== sent.id) return 'wrong-probe'
  if (!validId(reply.target) || !validMetric(reply.sysmetric)) return 'malformed'
  const pathProblem = validPath(reply.path, maxTtl + 1)
  if (pathProblem != null) return pathProblem
  const { path } = reply
  if (path.length <= sent.path.length || path[sent.path.length] !== to) return 'forged-path'
  for (let i = 0; i < sent.path.length; i++) {
    if (path[i] !== sent.path[i]) return 'forged-path'
  }
  if (path[path.length - 1] !== reply.target) return 'forged-path'
  return undefined
}

/**
 * Algorithm II: run locally when our own sysmetric is at least as good as the
 * best neighbour's distribution metric, else probe that neighbour.
 */
export function decideOrigin (gossip: Gossip, self: string, ownSysmetric: number, now: number, opts: OriginOptions): OriginDecision {
  const ttl = opts.ttl ?? DEFAULT_TTL
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL) throw new RangeError(`ttl must be an integer in 1..${MAX_TTL}, got ${ttl}`)
  const best = gossip.best(now)
  if (best == null) return { kind: 'local', reason: 'no-live-neighbour' }
  if (opts.force !== true && ownSysmetric >= best.dismetric) return { kind: 'local', reason: 'local-is-best' }
  const probe: Probe = { id: opts.id, origin: self, sender: self, path: [self], ttl: ttl - 1 }
  if (opts.force !== true) probe.originSysmetric = ownSysmetric
  if (opts.requirements != null) probe.requirements = opts.requirements
  return { kind: 'probe', to: best.id, probe }
}

/**
 * Algorithm III at node `self`, which received `probe` from neighbour `from`.
 * Reply when our own sysmetric is at least as good as every neighbour not yet
 * on the path (and we meet the job's requirements); else forward to the best
 * such neighbour while the TTL allows. With the TTL spent, or no neighbour
 * left off the path, a node that meets the requirements replies anyway: it is
 * the best the probe found, and the origin still compares it with itself.
 */
export function propagate (
  gossip: Gossip,
  self: string,
  from: string,
  probe: Probe,
  ownSysmetric: number,
  now: number,
  meets: (r?: JobRequirements) => boolean,
  opts: PropagateOptions = {}
): PropagateDecision {
  const problem = validateProbe(probe, opts.maxTtl ?? MAX_TTL)
  if (problem != null) return { kind: 'decline', reason: problem }
  if (probe.sender !== from) return { kind: 'decline', reason: 'sender-mismatch' }
  if (!gossip.isLive(from, now)) return { kind: 'decline', reason: 'not-a-live-neighbour' }
  if (probe.path.includes(self)) return { kind: 'decline', reason: 'loop' }

  const canRun = meets(probe.requirements)
  const c = gossip.config.c
  // The paper's Algorithm III (avoidPath false) weighs every neighbour, even those already visited.
  const next = gossip.best(now, opts.avoidPath === false ? undefined : probe.path)
  if (canRun && (next == null || ownSysmetric >= next.dismetric)) return reply(probe, self, ownSysmetric, c)
  if (next != null && probe.ttl > 0) {
    const forwarded: Probe = { id: probe.id, origin: probe.origin, sender: self, path: [...probe.path, self], ttl: probe.ttl - 1 }
    if (probe.requirements != null) forwarded.requirements = probe.requirements
    // A relay that will offer itself on the way back (relayReply) raises the bar to its own
    // value: the next node then answers only if it beats this one too, and issues no ticket
    // (no promised job it would count) for a reply that this node would throw away.
    const bar = canRun && opts.relayOffers === true && validMetric(ownSysmetric) ? ownSysmetric - c : undefined
    const ask = bar === undefined || bar < 0 ? probe.originSysmetric : Math.max(bar, probe.originSysmetric ?? bar)
    if (ask !== undefined) forwarded.originSysmetric = ask
    return { kind: 'forward', to: next.id, probe: forwarded }
  }
  if (canRun) return reply(probe, self, ownSysmetric, c)
  return { kind: 'decline', reason: 'cannot-meet-requirements' }
}

function reply (probe: Probe, self: string, ownSysmetric: number, c: number): PropagateDecision {
  if (!beatsOrigin(probe, ownSysmetric, c)) return { kind: 'decline', reason: 'not-better-than-origin' }
  return { kind: 'reply', reply: { id: probe.id, target: self, sysmetric: ownSysmetric, path: [...probe.path, self] } }
}

/**
 * The origin's last word (paper Table III rows 8–9): the reply carries the
 * target's fresh sysmetric, which may have dropped since it was gossiped.
 * Migrate only when it still beats running here after the per-hop overhead,
 * the same test Algorithm II applies to a neighbour's dismetric.
 *
 * `asked` is the value the probe asked the target to beat (its
 * originSysmetric, the origin's own value when it sent the probe). A reply
 * that clears it is taken even if this node's value has risen since: the
 * target has already issued a ticket and counts the job as pending, and a
 * refused offer would leave it looking busier than it is until the ticket's
 * count lapses. A value that dropped since only makes the reply better.
 */
export function acceptReply (ownSysmetric: number, reply: ProbeReply, c: number = DEFAULT_C, asked?: number): 'remote' | 'local' {
  if (reply == null || !validMetric(reply.sysmetric)) return 'local'
  const bar = asked !== undefined && validMetric(asked) ? Math.min(ownSysmetric, asked) : ownSysmetric
  return reply.sysmetric - c > bar ? 'remote' : 'local'
}

/**
 * A node relaying the answer to a probe it forwarded (beyond the paper). The
 * probe was routed by gossip up to a delay old; the reply carries the
 * target's fresh value, and this node knows its own fresh value too. If it
 * is now better than the target — a burst of probes has just loaded it — or
 * the probe came back declined (`reply` undefined), it offers itself, as
 * long as it can run the job and beats the origin: the job then runs one hop
 * nearer, on fresher information. `received` is the probe as it reached this
 * node (its bar is the one to beat; the copy sent on may carry a higher one,
 * see propagate's `relayOffers`).
 */
export function relayReply (self: string, ownSysmetric: number, reply: ProbeReply | undefined, received: Probe, meets: (r?: JobRequirements) => boolean, c: number = DEFAULT_C): ProbeReply | undefined {
  if (!validMetric(ownSysmetric)) return reply
  if (reply != null && (!validMetric(reply.sysmetric) || ownSysmetric <= reply.sysmetric)) return reply
  if (!meets(received.requirements) || !beatsOrigin(received, ownSysmetric, c)) return reply
  return { id: received.id, target: self, sysmetric: ownSysmetric, path: [...received.path, self] }
}

/** Would running here beat running at the origin, by the same test the origin applies (acceptReply)? */
function beatsOrigin (probe: Probe, ownSysmetric: number, c: number): boolean {
  return probe.originSysmetric === undefined || ownSysmetric - c > probe.originSysmetric
}
