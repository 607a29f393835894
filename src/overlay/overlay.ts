import { randomBytes } from 'node:crypto'
import { pbStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createGossip, decideOrigin, propagate, acceptReply, relayReply, validateReply,
  DEFAULT_DELAY_MS, DEFAULT_PROBE_DEADLINE_MS, DEFAULT_TTL,
  type Gossip, type JobRequirements, type Probe, type ProbeReply
} from '../balance/index.js'
import { MetricUpdate } from '../wire/metric.js'
import { ProbeRequest, ProbeResponse } from '../wire/probe.js'
import {
  METRIC_MAX_MESSAGE_BYTES, PROBE_HOP_MARGIN_MS, PROBE_MAX_MESSAGE_BYTES, PROBE_MAX_PATH,
  PROTOCOL_METRIC, PROTOCOL_PROBE, MAX_ADDRS_PER_PEER
} from '../constants.js'
import { asError, BadInputError, errorMessage } from '../errors.js'
import { proveOrigin, verifyOrigin } from '../tickets/index.js'
import type { Overlay, OverlayComponents, OverlayInit, OverlayStatus, ProbeCarrier, ProbeOutcome } from './index.js'
import type { Connection, Stream } from '@libp2p/interface'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('overlay')

/** What a probe message may hold, on a probe stream or carried in a job's request. */
const REQUEST_LIMITS = { limits: { path: PROBE_MAX_PATH } }
const RESPONSE_LIMITS = { limits: { path: PROBE_MAX_PATH, addrs: MAX_ADDRS_PER_PEER } }

/** Triggered updates go out at most this often. */
const TRIGGERED_MIN_GAP_MS = 25

/**
 * A triggered update goes to a neighbour only when what it would say moved
 * by at least this much (metric units, 0–155 for an idle reference machine)
 * since the last message to it: every fresh reading of the runnable
 * processes republishes the value, and resending a value that moved by a
 * hundredth made each reading a round of messages between all nodes (the
 * periodic message still goes every delay, moved or not).
 */
const TRIGGERED_MIN_CHANGE = 0.5

/** An inbound metric stream silent this long (in delays, at least 10 s) is dropped. */
const METRIC_IDLE_DELAYS = 10
const METRIC_IDLE_MIN_MS = 10_000

export class KappaOverlay implements Overlay {
  private readonly gossip: Gossip
  private readonly delayMs: number
  private readonly ttl: number
  private readonly probeTimeoutMs: number
  private readonly relayOffers: boolean
  private readonly self: string
  /** our long-lived outbound metric stream to each neighbour */
  private readonly senders = new Map<string, { stream: Stream, write: (m: MetricUpdate) => Promise<void> }>()
  private readonly opening = new Set<string>()
  /** the neighbour's current inbound metric stream; a newer one replaces it */
  private readonly receivers = new Map<string, Stream>()
  private timer?: NodeJS.Timeout
  private triggered?: NodeJS.Timeout
  private lastSent = 0
  /** what the last message to each neighbour said */
  private readonly said = new Map<string, { sendProbe: number, sysmetric: number }>()
  private readonly counts = { sent: 0, received: 0, unchanged: 0 }

  private readonly now: () => number

  constructor (private readonly components: OverlayComponents, init: OverlayInit) {
    this.delayMs = init.delayMs ?? DEFAULT_DELAY_MS
    this.ttl = init.ttl ?? DEFAULT_TTL
    this.probeTimeoutMs = init.probeTimeoutMs ?? DEFAULT_PROBE_DEADLINE_MS
    this.relayOffers = init.relayOffers ?? true
    this.gossip = createGossip({ c: init.c, delayMs: this.delayMs, splitHorizon: init.splitHorizon })
    this.self = components.libp2p.peerId.toString()
    this.now = components.now ?? Date.now
  }

  async start (): Promise<void> {
    const { libp2p, access, trust, events } = this.components
    for (const peer of trust.list()) this.gossip.addNeighbour(peer.id)
    events.subscribe((e) => {
      if (e.type === 'paired') this.gossip.addNeighbour(e.id)
      if (e.type === 'unpaired') this.dropNeighbour(e.id)
    })
    await libp2p.handle(PROTOCOL_METRIC, access.guard(PROTOCOL_METRIC, 'paired', async (stream, connection) => {
      await this.onMetricStream(stream, connection)
    }), { maxInboundStreams: 4, maxOutboundStreams: 4 })
    await libp2p.handle(PROTOCOL_PROBE, access.guard(PROTOCOL_PROBE, 'paired', async (stream, connection) => {
      await this.onProbeStream(stream, connection)
    }), { maxInboundStreams: 32, maxOutboundStreams: 32 })
    this.timer = setInterval(() => { this.tick(false) }, this.delayMs)
    this.tick(false)
  }

  /**
   * Something this node gossips changed (its own value, after a sample or a
   * ticket; or a neighbour's, which changes what it passes on): send at once
   * instead of at the next tick — a triggered update, rate-limited — so a
   * burst of probes is routed on values milliseconds old, not a delay old.
   */
  changed (): void {
    if (this.triggered != null || this.timer == null) return
    const wait = Math.max(0, this.lastSent + TRIGGERED_MIN_GAP_MS - this.now())
    this.triggered = setTimeout(() => {
      this.triggered = undefined
      this.tick(true)
    }, wait)
  }

  async stop (): Promise<void> {
    clearTimeout(this.triggered)
    clearInterval(this.timer)
    for (const { stream } of this.senders.values()) stream.abort(new Error('stopping'))
    this.senders.clear()
    await this.components.libp2p.unhandle([PROTOCOL_METRIC, PROTOCOL_PROBE]).catch(logged(debug, 'unregistering the protocols'))
  }

  private dropNeighbour (id: string): void {
    this.gossip.removeNeighbour(id)
    this.senders.get(id)?.stream.abort(new Error('unpaired'))
    this.senders.delete(id)
    this.said.delete(id)
    this.receivers.get(id)?.abort(new Error('unpaired'))
    this.receivers.delete(id)
  }

  // ---- Algorithm I ---------------------------------------------------------

  /** Every delay: drop silent neighbours, then send send_probe to each neighbour; `triggered`: only to those it changed for. */
  private tick (triggered: boolean): void {
    const now = this.now()
    for (const id of this.gossip.expire(now)) {
      this.components.events.emit({ type: 'neighbour-expired', id, alias: this.components.trust.get(id)?.alias })
      this.components.onNeighbourChange?.()
    }
    const own = this.components.ownMetric()
    if (own == null) return
    this.lastSent = now
    for (const { to, msg } of this.gossip.outgoing(own, now)) {
      const before = this.said.get(to)
      if (triggered && before != null && Math.abs(before.sendProbe - msg.sendProbe) < TRIGGERED_MIN_CHANGE && Math.abs(before.sysmetric - msg.sysmetric) < TRIGGERED_MIN_CHANGE) {
        this.counts.unchanged++
        continue
      }
      void this.send(to, { sendProbe: msg.sendProbe, sysmetric: msg.sysmetric, seq: BigInt(msg.seq), delayMs: this.delayMs })
    }
  }

  private async send (to: string, update: MetricUpdate): Promise<void> {
    const { libp2p, trust } = this.components
    let sender = this.senders.get(to)
    if (sender == null) {
      // gossip never dials: the reconnector keeps paired peers connected
      const connection = libp2p.getConnections(peerIdFromString(to))[0]
      if (connection == null || this.opening.has(to) || !trust.has(to)) return
      this.opening.add(to)
      try {
        const stream = await connection.newStream(PROTOCOL_METRIC, { signal: AbortSignal.timeout(Math.max(1000, this.delayMs * 3)), negotiateFully: false })
        const messages = pbStream(stream, { maxDataLength: METRIC_MAX_MESSAGE_BYTES }).pb(MetricUpdate)
        sender = { stream, write: async (m) => { await messages.write(m, { signal: AbortSignal.timeout(Math.max(1000, this.delayMs * 3)) }) } }
        stream.addEventListener('close', () => { if (this.senders.get(to) === sender) this.senders.delete(to) })
        this.senders.set(to, sender)
      } catch {
        return
      } finally {
        this.opening.delete(to)
      }
    }
    try {
      await sender.write(update)
      this.said.set(to, { sendProbe: update.sendProbe, sysmetric: update.sysmetric })
      this.counts.sent++
    } catch (err) {
      sender.stream.abort(asError(err))
      this.senders.delete(to)
    }
  }

  private async onMetricStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    this.receivers.get(remote)?.abort(new Error('replaced by a newer stream'))
    this.receivers.set(remote, stream)
    const messages = pbStream(stream, { maxDataLength: METRIC_MAX_MESSAGE_BYTES }).pb(MetricUpdate)
    const idleMs = Math.max(METRIC_IDLE_MIN_MS, METRIC_IDLE_DELAYS * this.delayMs)
    try {
      for (;;) {
        const update = await messages.read({ signal: AbortSignal.timeout(idleMs) })
        this.counts.received++
        // the connection may outlive the pairing: re-check on every message
        if (!this.components.trust.has(remote)) throw new Error('no longer paired')
        const seq = update.seq > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(update.seq)
        const now = this.now()
        const own = this.components.ownMetric() ?? 0
        const before = this.gossip.sendProbe(own, now)
        if (this.gossip.receive(remote, { sendProbe: update.sendProbe, sysmetric: update.sysmetric, seq }, now)) this.components.onNeighbourChange?.()
        if (this.gossip.sendProbe(own, now) !== before) this.changed()
      }
    } catch (err) {
      stream.abort(asError(err))
    } finally {
      if (this.receivers.get(remote) === stream) this.receivers.delete(remote)
    }
  }

  bestNeighbour (): { id: string, dismetric: number } | undefined {
    return this.gossip.best(this.now())
  }

  status (): OverlayStatus {
    const now = this.now()
    const { trust, libp2p } = this.components
    const views = new Map(this.gossip.view(now).map(v => [v.id, v]))
    const own = this.components.ownMetric()
    return {
      sysmetric: own ?? null,
      sendProbe: own == null ? null : this.gossip.sendProbe(own, now),
      delayMs: this.delayMs,
      c: this.gossip.config.c,
      splitHorizon: this.gossip.config.splitHorizon,
      messages: { ...this.counts },
      neighbours: trust.list().map(p => {
        const v = views.get(p.id)
        return {
          id: p.id,
          alias: p.alias ?? null,
          addrs: p.addrs,
          connected: libp2p.getConnections(peerIdFromString(p.id)).length > 0,
          advertised: v?.advertised ?? 0,
          sysmetric: v?.sysmetric ?? 0,
          dismetric: v?.dismetric ?? 0,
          seq: v?.seq ?? -1,
          live: v?.live ?? false,
          lastSeenMs: v == null ? null : now - v.lastSeenMs
        }
      })
    }
  }

  // ---- Algorithms II and III -------------------------------------------------

  async probe (requirements?: JobRequirements, force = false, carrier?: ProbeCarrier): Promise<ProbeOutcome> {
    const asOrigin = this.components.originMetric ?? this.components.ownMetric
    const own = asOrigin()
    if (own == null && !force) return { local: true, reason: 'own metric not measured yet' }
    const now = this.now()
    const id = randomBytes(8).toString('hex')
    // `run --remote` (force): to the best neighbour even if none looks better, and any node that can run it may answer
    const decision = decideOrigin(this.gossip, this.self, own ?? 0, now, { id, ttl: this.ttl, requirements, force })
    if (decision.kind === 'local') return { local: true, reason: decision.reason, own, best: this.gossip.best(now) }
    // errors here are the carrier's (its job could not be made ready), not the hop's
    await carrier?.ready?.()
    const deadline = this.now() + this.probeTimeoutMs
    let response: ProbeResponse
    try {
      const proof = await proveOrigin(this.components.privateKey, decision.probe.id, this.self, decision.to)
      response = carrier == null
        ? await this.sendProbe(decision.to, decision.probe, deadline, proof)
        : await this.carry(carrier, decision.to, decision.probe, deadline, proof)
    } catch (err) {
      return { local: true, reason: `no probe reply: ${errorMessage(err)}` }
    }
    if (response.status !== ProbeResponse.Status.REPLY) {
      return { local: true, reason: response.reason === 'not-better-than-origin' ? 'no node is better than this one' : `probe declined: ${response.reason}`, own }
    }
    const reply: ProbeReply = { id: response.id, target: response.target, sysmetric: response.sysmetric, path: response.path }
    const problem = validateReply(reply, decision.probe, decision.to)
    if (problem != null) return { local: true, reason: `bad probe reply (${problem})` }
    const target = { id: reply.target, sysmetric: reply.sysmetric }
    // our own value may have changed while the probe was out; a reply that beats the value
    // the probe asked for is taken all the same (the target has promised the job, see acceptReply)
    const ownNow = asOrigin() ?? own ?? 0
    if (!force && acceptReply(ownNow, reply, this.gossip.config.c, decision.probe.originSysmetric) === 'local') {
      return { local: true, reason: 'the target is no better than this node', own: ownNow, path: reply.path, target }
    }
    const addrs = response.addrs.slice(0, MAX_ADDRS_PER_PEER).flatMap(b => { try { return [multiaddr(b).toString()] } catch { return [] } })
    return { local: false, path: reply.path, target: { ...target, addrs }, ticket: response.ticket, ticketTtlMs: response.ticketTtlMs }
  }

  /** One hop: open a probe stream to `to`, send, wait for the answer until `deadline`. */
  private async sendProbe (to: string, probe: Probe, deadline: number, originProof: Uint8Array<ArrayBuffer>): Promise<ProbeResponse> {
    const remaining = deadline - this.now()
    if (remaining <= PROBE_HOP_MARGIN_MS) throw new Error('deadline passed')
    const signal = AbortSignal.timeout(remaining)
    const connection = this.components.libp2p.getConnections(peerIdFromString(to))[0]
    if (connection == null) throw new Error(`not connected to ${to}`)
    // optimistic negotiation: the protocol name and the probe go out together
    const stream = await connection.newStream(PROTOCOL_PROBE, { signal, negotiateFully: false })
    const messages = pbStream(stream, { maxDataLength: PROBE_MAX_MESSAGE_BYTES })
    try {
      await messages.write(toWire(probe, remaining - PROBE_HOP_MARGIN_MS, originProof), ProbeRequest, { signal })
      const response = await messages.read(ProbeResponse, { signal, ...RESPONSE_LIMITS })
      await stream.close({ signal }).catch(logged(debug, 'closing a stream'))
      if (response.status === ProbeResponse.Status.UNSPECIFIED) {
        // what an empty or truncated frame decodes as: never a reply, the hop failed
        debug('probe %s: %s answered without a status, refused', probe.id, to)
        throw new BadInputError(`${to} answered the probe without a status`)
      }
      return response
    } catch (err) {
      stream.abort(asError(err))
      throw err
    }
  }

  /** The first hop through the carrier, with the deadline a probe stream would have. */
  private async carry (carrier: ProbeCarrier, to: string, probe: Probe, deadline: number, originProof: Uint8Array<ArrayBuffer>): Promise<ProbeResponse> {
    const remaining = deadline - this.now()
    if (remaining <= PROBE_HOP_MARGIN_MS) throw new Error('deadline passed')
    const answer = await carrier.send(to, ProbeRequest.encode(toWire(probe, remaining - PROBE_HOP_MARGIN_MS, originProof)), AbortSignal.timeout(remaining))
    if (answer.byteLength > PROBE_MAX_MESSAGE_BYTES) throw new BadInputError(`${to} answered the probe with over ${PROBE_MAX_MESSAGE_BYTES} bytes`)
    const response = ProbeResponse.decode(answer, RESPONSE_LIMITS)
    if (response.status === ProbeResponse.Status.UNSPECIFIED) throw new BadInputError(`${to} answered the probe without a status`)
    return response
  }

  private async onProbeStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const firstSignal = AbortSignal.timeout(this.probeTimeoutMs)
    const messages = pbStream(stream, { maxDataLength: PROBE_MAX_MESSAGE_BYTES })
    try {
      const request = await messages.read(ProbeRequest, { signal: firstSignal, ...REQUEST_LIMITS })
      const { response, signal } = await this.answerWithin(remote, request)
      await messages.write(response, ProbeResponse, { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(asError(err))
    }
  }

  async answer (remote: string, bytes: Uint8Array): Promise<ProbeResponse> {
    let request: ProbeRequest
    try {
      if (bytes.byteLength > PROBE_MAX_MESSAGE_BYTES) throw new Error(`over ${PROBE_MAX_MESSAGE_BYTES} bytes`)
      request = ProbeRequest.decode(bytes, REQUEST_LIMITS)
    } catch (err) {
      debug('a malformed probe from %s: %s', remote, errorMessage(err))
      return declined('', 'malformed-probe')
    }
    // as the probe stream's guard: only a paired neighbour sends probes
    if (!this.components.trust.has(remote)) return declined(request.id, 'not-a-neighbour')
    return (await this.answerWithin(remote, request)).response
  }

  /** never wait longer than the origin will, nor longer than our own deadline; `signal` is for sending the answer */
  private async answerWithin (remote: string, request: ProbeRequest): Promise<{ response: ProbeResponse, signal: AbortSignal }> {
    const budget = Math.min(request.timeoutMs, this.probeTimeoutMs)
    const deadline = this.now() + budget
    const signal = AbortSignal.timeout(Math.max(1, budget))
    return { response: await this.answerProbe(remote, request, deadline), signal }
  }

  private async answerProbe (remote: string, request: ProbeRequest, deadline: number): Promise<ProbeResponse> {
    const own = this.components.ownMetric()
    if (own == null) return declined(request.id, 'metric not measured yet')
    const probe = fromWire(request)
    const decision = propagate(this.gossip, this.self, remote, probe, own, this.now(), this.components.meets, { relayOffers: this.relayOffers })
    if (decision.kind === 'decline') {
      const full = decision.reason === 'cannot-meet-requirements' ? this.components.busy?.() : undefined
      return declined(request.id, full ?? decision.reason)
    }
    // the path is well formed (propagate checked it): the origin must have signed it for its first
    // hop — this node, when the origin is the peer on the other end of this connection
    const firstHop = probe.path.length > 1 ? probe.path[1] : this.self
    if (!await verifyOrigin(request.originProof, probe.id, probe.origin, firstHop)) {
      return declined(request.id, 'origin-unproved')
    }
    if (decision.kind === 'reply') return this.offer(decision.reply, probe, remote)
    let response: ProbeResponse
    try {
      // relay the next hop's answer back along the path
      response = await this.sendProbe(decision.to, decision.probe, deadline, request.originProof)
    } catch (err) {
      response = declined(request.id, `next hop ${decision.to} did not answer: ${errorMessage(err)}`)
    }
    if (this.relayOffers) {
      const reply = response.status === ProbeResponse.Status.REPLY ? { id: response.id, target: response.target, sysmetric: response.sysmetric, path: response.path } : undefined
      const offered = relayReply(this.self, this.components.ownMetric() ?? 0, reply, probe, this.components.meets, this.gossip.config.c)
      if (offered?.target === this.self) return this.offer(offered, probe, remote)
    }
    return response
  }

  /** PR with this node as the target: its addresses and a ticket for the origin, unless the relaying neighbour has too many unused. */
  private offer (reply: ProbeReply, probe: Probe, via: string): ProbeResponse {
    const issued = this.components.tickets.issue(probe.origin, via, probe.id)
    if (!issued.ok) return declined(reply.id, issued.reason)
    const ticket = issued.ticket
    return {
      status: ProbeResponse.Status.REPLY,
      id: reply.id,
      target: reply.target,
      sysmetric: reply.sysmetric,
      path: reply.path,
      addrs: this.components.libp2p.getMultiaddrs().slice(0, MAX_ADDRS_PER_PEER).map(a => a.bytes as Uint8Array<ArrayBuffer>),
      ticket: ticket.secret as Uint8Array<ArrayBuffer>,
      // the ticket book's clock, not the overlay's: the two may differ (tests inject one)
      ticketTtlMs: Math.max(0, ticket.expiresAt - ticket.issuedAt),
      reason: ''
    }
  }
}

function declined (id: string, reason: string): ProbeResponse {
  return { status: ProbeResponse.Status.DECLINED, id, target: '', sysmetric: 0, path: [], addrs: [], ticket: new Uint8Array(0), ticketTtlMs: 0, reason }
}

function toWire (probe: Probe, timeoutMs: number, originProof: Uint8Array<ArrayBuffer>): ProbeRequest {
  return {
    id: probe.id,
    origin: probe.origin,
    sender: probe.sender,
    path: probe.path,
    ttl: probe.ttl,
    requirements: probe.requirements == null
      ? undefined
      : { arch: probe.requirements.arch ?? '', interpreter: probe.requirements.interpreter ?? '', minFreeMemKib: BigInt(probe.requirements.minFreeMemKiB ?? 0), toolchain: probe.requirements.toolchain ?? '' },
    timeoutMs: Math.max(0, Math.floor(timeoutMs)),
    originSysmetric: probe.originSysmetric,
    originProof
  }
}

function fromWire (request: ProbeRequest): Probe {
  const probe: Probe = { id: request.id, origin: request.origin, sender: request.sender, path: request.path, ttl: request.ttl }
  if (request.originSysmetric != null) probe.originSysmetric = request.originSysmetric
  const r = request.requirements
  if (r != null) {
    probe.requirements = {}
    if (r.arch !== '') probe.requirements.arch = r.arch
    if (r.interpreter !== '') probe.requirements.interpreter = r.interpreter
    if (r.minFreeMemKib > 0n) probe.requirements.minFreeMemKiB = Number(r.minFreeMemKib)
    if (r.toolchain !== '') probe.requirements.toolchain = r.toolchain
  }
  return probe
}
