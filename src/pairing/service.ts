import { pbStream, RateLimiter } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { PairRequest, PairResponse } from '../wire/pair.js'
import { UserError, RefusedError, asError, errorFromCode, errorMessage, networkError, oneLine } from '../errors.js'
import { shortId, label } from '../names.js'
import { checkAlias, TrustWriteError } from '../trust/index.js'
import { parsePairTarget, peerIdOf } from './invites.js'
import { sourceOf } from '../access/index.js'
import { PairRequestQueue } from './requests.js'
import {
  MAX_ADDRS_PER_PEER, OUTGOING_REQUEST_TTL_MS, PAIR_MAX_MESSAGE_BYTES,
  PAIR_RATE_DURATION_S, PAIR_RATE_POINTS, PAIR_TIMEOUT_MS, PROTOCOL_PAIR, PAIRED_PEER_TAG
} from '../constants.js'
import type { Pairing, PairingComponents, PairingInit, PairRequestInfo, PairResult } from './index.js'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import { pEvent } from 'p-event'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('pairing')

const UNPAIR_NOTIFY_TIMEOUT_MS = 2_000
const STRANGER_LINGER_MS = 1_000

/** Resolves when the remote closed its writing side (or reset), or after `ms`. */
async function remoteClosed (stream: Stream, ms: number): Promise<void> {
  if (stream.remoteWriteStatus !== 'writable' || stream.status !== 'open') return
  await pEvent(stream, ['remoteCloseWrite', 'close'], { timeout: ms }).catch(logged(debug, 'waiting for the remote to close'))
}

export class PairingService implements Pairing {
  private readonly incoming: PairRequestQueue
  /** peers we sent a REQUEST to, until when we accept their ACCEPT */
  private readonly outgoing = new Map<string, number>()
  /** per source address: fresh identities cost nothing. Invites have their own budget, so a flood of requests never blocks one. */
  private readonly requestLimit = new RateLimiter({ points: PAIR_RATE_POINTS, duration: PAIR_RATE_DURATION_S })
  private readonly redeemLimit = new RateLimiter({ points: PAIR_RATE_POINTS, duration: PAIR_RATE_DURATION_S })
  private readonly now: () => number

  constructor (private readonly components: PairingComponents, private readonly init: PairingInit) {
    this.now = components.now ?? Date.now
    this.incoming = new PairRequestQueue({ now: this.now })
  }

  async start (): Promise<void> {
    const { libp2p, access } = this.components
    await libp2p.handle(PROTOCOL_PAIR, access.guard(PROTOCOL_PAIR, 'anyone', async (stream, connection) => {
      await this.onStream(stream, connection)
    }), { maxInboundStreams: 8, maxOutboundStreams: 8 })
    for (const peer of this.components.trust.list()) await this.keepAlive(peer.id, peer.addrs)
  }

  async stop (): Promise<void> {
    await this.components.libp2p.unhandle(PROTOCOL_PAIR)
  }

  requests (): PairRequestInfo[] {
    return this.incoming.list()
  }

  hasOutgoingRequest (peer: string): boolean {
    const until = this.outgoing.get(peer)
    return until != null && this.now() <= until
  }

  // ---- inbound -------------------------------------------------------------

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(PAIR_TIMEOUT_MS)
    const messages = pbStream(stream, { maxDataLength: PAIR_MAX_MESSAGE_BYTES })
    try {
      const request = await messages.read(PairRequest, { signal, limits: { addrs: MAX_ADDRS_PER_PEER } })
      const source = sourceOf(connection.remoteAddr)
      const limit = request.kind === PairRequest.Kind.REDEEM ? this.redeemLimit : this.requestLimit
      const limited = !this.components.access.isKnown(remote) && !withinLimit(limit, source)
      const response = limited ? refused('too many pairing attempts from your address; try again in a minute') : await this.answer(remote, request, source)
      await messages.write(response, PairResponse, { signal })
      await stream.close({ signal })
      // let the answer reach the peer before a hang-up could reset it
      if (!this.components.access.isKnown(remote)) await remoteClosed(stream, STRANGER_LINGER_MS)
    } catch (err) {
      // malformed, truncated, oversized or slow: drop this stream, keep serving
      stream.abort(asError(err))
    } finally {
      // a stranger's connection serves nothing else once the exchange is over
      if (!this.components.access.isKnown(remote)) {
        await connection.close().catch(logged(debug, 'closing a refused connection'))
      }
    }
  }

  private async answer (remote: string, request: PairRequest, source: string): Promise<PairResponse> {
    const { trust, invites, events } = this.components
    const theirAlias = sanitizeAlias(request.alias)
    const theirAddrs = parseAddrs(request.addrs, remote)
    switch (request.kind) {
      case PairRequest.Kind.REDEEM: {
        if (trust.has(remote)) return this.paired()
        const result = invites.redeem(request.token, remote)
        if (!result.ok) return refused(result.reason)
        const saved = await this.addInbound(remote, theirAlias, theirAddrs, 'invite')
        // not saved: the invite stays good for another try
        if (saved.status !== PairResponse.Status.PAIRED) invites.restore(request.token, remote)
        return saved
      }
      case PairRequest.Kind.REQUEST: {
        if (trust.has(remote)) return this.paired()
        if (this.hasOutgoingRequest(remote)) {
          // both owners asked: that is consent on both ends
          this.outgoing.delete(remote)
          return await this.addInbound(remote, theirAlias, theirAddrs, 'request')
        }
        if (!this.init.acceptPairRequests) return refused('this node does not take pairing requests; ask its owner for an invite line')
        const admitted = this.incoming.add({ id: remote, alias: theirAlias, addrs: theirAddrs }, source)
        if (!admitted.ok) return refused(admitted.reason)
        if (admitted.fresh) events.emit({ type: 'pair-request', id: remote, alias: theirAlias, addrs: theirAddrs })
        return { status: PairResponse.Status.PENDING, error: '', alias: this.init.alias ?? '', addrs: [] }
      }
      case PairRequest.Kind.ACCEPT: {
        if (trust.has(remote)) return this.paired()
        if (!this.hasOutgoingRequest(remote)) return refused('no pairing request to this node is pending; send one with kappa-node pair')
        this.outgoing.delete(remote)
        return await this.addInbound(remote, theirAlias, theirAddrs, 'accept')
      }
      case PairRequest.Kind.UNPAIR: {
        const peer = trust.get(remote)
        this.incoming.delete(remote)
        this.outgoing.delete(remote)
        if (peer != null) {
          try {
            await this.dropPeer(remote)
          } catch (err) {
            if (!(err instanceof TrustWriteError)) throw err
            events.emit({ type: 'warning', message: `${label(remote, peer.alias)} unpaired us, but ${err.message}` })
            return refused('this node could not save the unpairing (its disk)')
          }
          events.emit({ type: 'unpaired', id: remote, alias: peer.alias, by: 'peer' })
          // hang up once our answer is out
          setTimeout(() => { void this.components.libp2p.hangUp(peerIdFromString(remote)).catch(logged(debug, 'hanging up after unpair')) }, 50)
        }
        return { status: PairResponse.Status.UNPAIRED, error: '', alias: '', addrs: [] }
      }
      default:
        return refused('unknown pairing message')
    }
  }

  /** Pairs a peer that asked us; a trust store that cannot be written refuses, with one line in our log. */
  private async addInbound (remote: string, alias: string | undefined, addrs: string[], via: 'invite' | 'request' | 'accept'): Promise<PairResponse> {
    const { trust, events } = this.components
    try {
      await this.addPeer(remote, alias, addrs)
    } catch (err) {
      if (!(err instanceof TrustWriteError)) throw err
      events.emit({ type: 'warning', message: `pairing with ${label(remote, alias)} failed: ${err.message}` })
      return refused('this node could not save the pairing (its disk); try again later')
    }
    events.emit({ type: 'paired', id: remote, alias: trust.get(remote)?.alias, via })
    return this.paired()
  }

  private paired (): PairResponse {
    return { status: PairResponse.Status.PAIRED, error: '', alias: this.init.alias ?? '', addrs: this.ownAddrs() }
  }

  // ---- outbound ------------------------------------------------------------

  async pair (arg: string, alias?: string, options: AbortOptions = {}): Promise<PairResult> {
    const target = parsePairTarget(arg)
    const id = target.peerId.toString()
    const { libp2p, trust } = this.components
    if (alias != null) trust.checkFreeAlias(alias, id)
    if (id === libp2p.peerId.toString()) throw new UserError('that is this node\'s own address')
    const existing = trust.get(id)
    if (existing != null) throw new UserError(`already paired with ${label(id, existing.alias)}`)

    const kind = target.token != null ? PairRequest.Kind.REDEEM : PairRequest.Kind.REQUEST
    if (kind === PairRequest.Kind.REQUEST) {
      // their owner's accept dials back to us: let it through the gater meanwhile
      this.outgoing.set(id, this.now() + OUTGOING_REQUEST_TTL_MS)
      this.components.access.expect(id, OUTGOING_REQUEST_TTL_MS)
    }
    let response: PairResponse
    try {
      response = await this.exchange(target.peerId, target.addrs, { kind, token: target.token ?? '', alias: this.init.alias ?? '', addrs: [] }, PAIR_TIMEOUT_MS, options)
    } catch (err) {
      this.forgetOutgoing(id)
      throw err
    }
    if (response.status === PairResponse.Status.PAIRED) {
      this.outgoing.delete(id)
      const addrs = mergeAddrs(target.addrs.map(stripP2p), parseAddrs(response.addrs, id))
      await this.addPeer(id, alias ?? sanitizeAlias(response.alias), addrs).catch((err) => { throw notSaved(id, err) })
      this.components.events.emit({ type: 'paired', id, alias: trust.get(id)?.alias, via: kind === PairRequest.Kind.REDEEM ? 'invite' : 'request' })
      return { status: 'paired', id, alias: trust.get(id)?.alias }
    }
    if (response.status === PairResponse.Status.PENDING) {
      return { status: 'pending', id, alias: sanitizeAlias(response.alias) }
    }
    this.forgetOutgoing(id)
    throw new RefusedError(`${shortId(id)} refused: ${oneLine(response.error) || 'no reason given'}`)
  }

  private forgetOutgoing (id: string): void {
    this.outgoing.delete(id)
    if (!this.components.trust.has(id)) this.components.access.unexpect(id)
  }

  async accept (ref: string, alias?: string, options: AbortOptions = {}): Promise<PairResult> {
    this.prune()
    const request = this.incoming.find(ref)
    if (request == null) {
      const paired = this.components.trust.find(ref)
      if (paired != null) throw new UserError(`already paired with ${label(paired.id, paired.alias)}`)
      throw new UserError(`no pending pairing request from '${ref}'; see kappa-node requests`)
    }
    if (alias != null) this.components.trust.checkFreeAlias(alias, request.id)
    const peerId = peerIdFromString(request.id)
    const addrs = request.addrs.map(a => multiaddr(a))
    let response: PairResponse
    try {
      response = await this.exchange(peerId, addrs, { kind: PairRequest.Kind.ACCEPT, token: '', alias: this.init.alias ?? '', addrs: [] }, PAIR_TIMEOUT_MS, options)
    } catch (err) {
      throw errorFromCode((err as UserError).code, `${errorMessage(err)}; the request stays pending, try again when it is online`)
    }
    if (response.status !== PairResponse.Status.PAIRED) {
      this.incoming.delete(request.id)
      throw new RefusedError(`${shortId(request.id)} refused: ${oneLine(response.error) || 'no reason given'}`)
    }
    this.incoming.delete(request.id)
    await this.addPeer(request.id, alias ?? request.alias ?? sanitizeAlias(response.alias), mergeAddrs(request.addrs, parseAddrs(response.addrs, request.id)))
      .catch((err) => { throw notSaved(request.id, err) })
    const stored = this.components.trust.get(request.id)
    this.components.events.emit({ type: 'paired', id: request.id, alias: stored?.alias, via: 'accept' })
    return { status: 'paired', id: request.id, alias: stored?.alias }
  }

  async unpair (ref: string, options: AbortOptions = {}): Promise<{ id: string, alias?: string, notified: boolean }> {
    const { trust, libp2p, access } = this.components
    const peer = trust.find(ref)
    if (peer == null) throw new UserError(`not paired with '${ref}'; see kappa-node peers`)
    const peerId = peerIdFromString(peer.id)
    // forget first: from here on every handler refuses this peer
    await this.dropPeer(peer.id)
    let notified = false
    access.expect(peer.id, UNPAIR_NOTIFY_TIMEOUT_MS)
    try {
      const response = await this.exchange(peerId, peer.addrs.map(a => multiaddr(a)), { kind: PairRequest.Kind.UNPAIR, token: '', alias: '', addrs: [] }, UNPAIR_NOTIFY_TIMEOUT_MS, options)
      notified = response.status === PairResponse.Status.UNPAIRED
    } catch (err) {
      // best effort: the other end finds its streams refused
      debug('telling %s of the unpairing: %s', peer.id, errorMessage(err))
    } finally {
      access.unexpect(peer.id)
    }
    await libp2p.hangUp(peerId).catch(logged(debug, 'hanging up'))
    this.components.events.emit({ type: 'unpaired', id: peer.id, alias: peer.alias, by: 'us' })
    return { id: peer.id, alias: peer.alias, notified }
  }

  // ---- helpers -------------------------------------------------------------

  /** One request, one response on a fresh /kappa/pair/2 stream, under one deadline. */
  private async exchange (peerId: PeerId, addrs: Multiaddr[], request: PairRequest, timeoutMs = PAIR_TIMEOUT_MS, options: AbortOptions = {}): Promise<PairResponse> {
    const { libp2p, access } = this.components
    const id = peerId.toString()
    // one signal for the whole exchange: its deadline, or the caller giving up (the CLI went away)
    const signal = options.signal != null ? AbortSignal.any([AbortSignal.timeout(timeoutMs), options.signal]) : AbortSignal.timeout(timeoutMs)
    const wasKnown = access.isKnown(id)
    access.expect(id, timeoutMs)
    request.addrs = this.ownAddrs()
    try {
      const dialAddrs = addrs.map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${id}`) : a)
      let stream: Stream
      try {
        const existing = libp2p.getConnections(peerId)[0]
        stream = existing != null
          ? await existing.newStream(PROTOCOL_PAIR, { signal })
          : await libp2p.dialProtocol(dialAddrs, PROTOCOL_PAIR, { signal })
      } catch (err) {
        throw networkError(`could not reach ${shortId(id)} at ${addrs[0]?.toString() ?? '(no address)'}`, err)
      }
      const messages = pbStream(stream, { maxDataLength: PAIR_MAX_MESSAGE_BYTES })
      try {
        await messages.write(request, PairRequest, { signal })
        const response = await messages.read(PairResponse, { signal, limits: { addrs: MAX_ADDRS_PER_PEER } })
        await stream.close({ signal }).catch(logged(debug, 'closing the pair stream'))
        return response
      } catch (err) {
        stream.abort(asError(err))
        throw networkError(`pairing exchange with ${shortId(id)} failed`, err)
      }
    } finally {
      if (!wasKnown && !this.hasOutgoingRequest(id)) access.unexpect(id)
    }
  }

  private async addPeer (id: string, alias: string | undefined, addrs: string[]): Promise<void> {
    const { trust } = this.components
    let name = alias
    if (name != null && trust.aliasTaken(name, id)) name = undefined
    this.incoming.delete(id)
    await trust.add({ id, alias: name, addrs, pairedAt: this.now() })
    await this.keepAlive(id, addrs)
  }

  private async dropPeer (id: string): Promise<void> {
    this.components.access.unexpect(id)
    await this.components.trust.remove(id)
    await this.components.libp2p.peerStore.delete(peerIdFromString(id)).catch(logged(debug, 'forgetting the peer in the peer store'))
  }

  /**
   * A paired peer's addresses go into the peer store, and a tag keeps the
   * connection manager from pruning its connection. Not KEEP_ALIVE: libp2p's
   * reconnect queue gives up after a few tries, so the daemon's Reconnector
   * (src/daemon/reconnect.ts) is the one mechanism that redials, forever with backoff.
   */
  private async keepAlive (id: string, addrs: string[]): Promise<void> {
    const multiaddrs: Multiaddr[] = []
    for (const a of addrs) {
      try { multiaddrs.push(multiaddr(a)) } catch (err) { debug('a bad stored address: %s', errorMessage(err)) }
    }
    await this.components.libp2p.peerStore.merge(peerIdFromString(id), {
      multiaddrs,
      tags: { [PAIRED_PEER_TAG]: { value: 100 } }
    }).catch(logged(debug, 'saving the peer\'s addresses'))
  }


  private ownAddrs (): Uint8Array<ArrayBuffer>[] {
    return this.components.libp2p.getMultiaddrs().slice(0, MAX_ADDRS_PER_PEER).map(a => stripP2p(a).bytes as Uint8Array<ArrayBuffer>)
  }

  private prune (): void {
    const now = this.now()
    for (const [id, until] of this.outgoing) if (now > until) this.outgoing.delete(id)
  }
}

/** The other end has paired us, this end could not record it: pairing again heals it (they answer "already paired"). */
function notSaved (id: string, err: unknown): Error {
  if (!(err instanceof TrustWriteError)) return err as Error
  return new UserError(`${shortId(id)} accepted, but ${err.message}; run the same pair command again once it can be written`)
}

/** The rate limiter throws once a key is over its points. */
function withinLimit (limit: RateLimiter, key: string): boolean {
  try {
    limit.consume(key)
    return true
  } catch {
    return false
  }
}

function refused (error: string): PairResponse {
  return { status: PairResponse.Status.REFUSED, error, alias: '', addrs: [] }
}

/** Multiaddrs a peer announced: valid, about that peer, without the /p2p suffix. */
function parseAddrs (raw: Uint8Array[], peer: string): string[] {
  const out: string[] = []
  for (const bytes of raw.slice(0, MAX_ADDRS_PER_PEER)) {
    try {
      const ma = multiaddr(bytes)
      const id = peerIdOf(ma)
      if (id != null && id !== peer) continue
      out.push(stripP2p(ma).toString())
    } catch (err) { debug('a bad address from a peer: %s', errorMessage(err)) }
  }
  return out
}

function stripP2p (ma: Multiaddr): Multiaddr {
  const id = peerIdOf(ma)
  return id == null ? ma : ma.decapsulate(`/p2p/${id}`)
}

function mergeAddrs (a: Array<string | Multiaddr>, b: string[]): string[] {
  return [...new Set([...a.map(x => x.toString()), ...b])].slice(0, MAX_ADDRS_PER_PEER)
}

function sanitizeAlias (alias: string): string | undefined {
  try {
    return alias === '' ? undefined : checkAlias(alias)
  } catch {
    return undefined
  }
}

