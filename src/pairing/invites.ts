import { createHash, randomBytes } from 'node:crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { UserError } from '../errors.js'
import { INVITE_MEMORY_MS, INVITE_TOKEN_BYTES } from '../constants.js'
import type { PeerId } from '@libp2p/interface'

export type RedeemResult = { ok: true } | { ok: false, reason: string }

interface TokenRecord { expiresAt: number, usedBy?: string, forgetAt: number }

/**
 * One-time invite tokens. Only a hash of each token is kept, so a lookup does
 * not compare secrets byte by byte; spent and expired tokens are remembered
 * for a while so a late redeemer is told exactly why it failed.
 */
export class InviteBook {
  private readonly tokens = new Map<string, TokenRecord>()

  constructor (private readonly now: () => number = Date.now) {}

  create (ttlMs: number): { token: string, expiresAt: number } {
    this.prune()
    const token = randomBytes(INVITE_TOKEN_BYTES).toString('base64url')
    const expiresAt = this.now() + ttlMs
    this.tokens.set(hashToken(token), { expiresAt, forgetAt: expiresAt + INVITE_MEMORY_MS })
    return { token, expiresAt }
  }

  redeem (token: string, peer: string): RedeemResult {
    const record = this.tokens.get(hashToken(token))
    if (record == null) return { ok: false, reason: 'unknown invite token: check the invite line, or ask for a new one' }
    if (record.usedBy != null) return { ok: false, reason: 'invite token already used: ask for a new invite' }
    if (this.now() > record.expiresAt) return { ok: false, reason: 'invite token expired: ask for a new invite' }
    record.usedBy = peer
    record.forgetAt = this.now() + INVITE_MEMORY_MS
    return { ok: true }
  }

  /** Undo a redemption that could not be completed (the pairing was not saved): the token works again. */
  restore (token: string, peer: string): void {
    const record = this.tokens.get(hashToken(token))
    if (record?.usedBy === peer) record.usedBy = undefined
  }

  /** Unused, unexpired invites: while there is one, strangers may connect to redeem it. */
  outstanding (): number {
    const now = this.now()
    let n = 0
    for (const r of this.tokens.values()) if (r.usedBy == null && now <= r.expiresAt) n++
    return n
  }

  private prune (): void {
    const now = this.now()
    for (const [key, r] of this.tokens) if (now > r.forgetAt) this.tokens.delete(key)
  }
}

function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

const INVITE_PREFIX = 'kappa:'

/** `kappa:<token>@<multiaddr>[,<multiaddr>…]`: one shell word, copy-paste safe. */
export function formatInvite (token: string, addrs: Multiaddr[]): string {
  return `${INVITE_PREFIX}${token}@${addrs.map(a => a.toString()).join(',')}`
}

export interface PairTarget {
  peerId: PeerId
  addrs: Multiaddr[]
  token?: string
}

/** Parse what `pair` accepts: an invite line, or a multiaddr ending in /p2p/<id>. */
export function parsePairTarget (arg: string): PairTarget {
  const text = arg.trim()
  if (text.startsWith(INVITE_PREFIX)) {
    const at = text.indexOf('@')
    const token = text.slice(INVITE_PREFIX.length, at)
    if (at < 0 || !/^[A-Za-z0-9_-]{16,64}$/.test(token)) {
      throw new UserError('malformed invite line: expected kappa:<token>@<multiaddr>; copy the whole line printed by kappa-node invite')
    }
    const addrs = text.slice(at + 1).split(',').filter(s => s !== '').map(parseAddr)
    return { ...samePeer(addrs, arg), token }
  }
  return samePeer([parseAddr(text)], arg)
}

function parseAddr (text: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch (err: any) {
    throw new UserError(`'${text}' is not a valid multiaddr (${err.message}); expected e.g. /ip4/192.168.1.5/tcp/4747/p2p/12D3KooW…`)
  }
  return ma
}

function samePeer (addrs: Multiaddr[], arg: string): PairTarget {
  if (addrs.length === 0) throw new UserError(`'${arg}' names no address`)
  const ids = new Set(addrs.map(a => peerIdOf(a)))
  if (ids.has(undefined)) {
    throw new UserError(`'${arg}' has no /p2p/<peer id>: the peer id is what authenticates the other node; copy the address printed by kappa-node id`)
  }
  if (ids.size > 1) throw new UserError(`'${arg}' names more than one peer`)
  const id = [...ids][0] as string
  let peerId: PeerId
  try {
    peerId = peerIdFromString(id)
  } catch {
    throw new UserError(`'${id}' is not a valid peer id`)
  }
  return { peerId, addrs }
}

export function peerIdOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}
