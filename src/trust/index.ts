import { readFile, readdir, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { writeFileAtomic } from '../home/index.js'
import { UserError } from '../errors.js'
import { MAX_ADDRS_PER_PEER, MAX_ALIAS_LENGTH } from '../constants.js'

/** One edge of the overlay: a peer both owners agreed to pair with. */
export interface PairedPeer {
  id: string
  alias?: string
  addrs: string[]
  pairedAt: number
}

interface TrustFile {
  version: 1
  peers: PairedPeer[]
}

const ALIAS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** Aliases are short names for people: letters, digits, `.`, `_`, `-`. */
export function checkAlias (alias: string): string {
  if (alias.length === 0 || alias.length > MAX_ALIAS_LENGTH || !ALIAS_PATTERN.test(alias)) {
    throw new UserError(`bad alias '${alias}': use up to ${MAX_ALIAS_LENGTH} letters, digits, '.', '_' or '-'`)
  }
  return alias
}

/**
 * The paired peers, kept in memory (authoritative, so access checks are
 * synchronous) and mirrored to `trust.json` with atomic writes, one at a time
 * and coalesced: a crash leaves the previous or the next complete file.
 */
export class TrustStore {
  private readonly peers = new Map<string, PairedPeer>()
  private saving: Promise<void> = Promise.resolve()
  private dirty = false

  private constructor (readonly path: string) {}

  static async load (path: string): Promise<TrustStore> {
    const store = new TrustStore(path)
    let text: string | undefined
    try {
      text = await readFile(path, 'utf8')
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw new UserError(`cannot read trust store ${path}: ${err.message}`)
    }
    if (text != null) {
      for (const peer of parseTrustFile(text, path)) store.peers.set(peer.id, peer)
    }
    await removeStaleTemps(path)
    return store
  }

  has (id: string): boolean {
    return this.peers.has(id)
  }

  get (id: string): PairedPeer | undefined {
    return this.peers.get(id)
  }

  list (): PairedPeer[] {
    return [...this.peers.values()].sort((a, b) => a.pairedAt - b.pairedAt)
  }

  /** A peer named by id or alias. */
  find (ref: string): PairedPeer | undefined {
    return this.peers.get(ref) ?? [...this.peers.values()].find(p => p.alias === ref)
  }

  aliasTaken (alias: string, exceptId?: string): boolean {
    return [...this.peers.values()].some(p => p.alias === alias && p.id !== exceptId)
  }

  /** A well-formed alias no other peer has, or a one-line error. */
  checkFreeAlias (alias: string, forId: string): string {
    checkAlias(alias)
    if (this.aliasTaken(alias, forId)) throw new UserError(`alias '${alias}' is already used by another peer`)
    return alias
  }

  async add (peer: PairedPeer): Promise<void> {
    this.peers.set(peer.id, { ...peer, addrs: peer.addrs.slice(0, MAX_ADDRS_PER_PEER) })
    await this.save()
  }

  async remove (id: string): Promise<boolean> {
    const had = this.peers.delete(id)
    if (had) await this.save()
    return had
  }

  async update (id: string, change: Partial<Pick<PairedPeer, 'alias' | 'addrs'>>): Promise<void> {
    const peer = this.peers.get(id)
    if (peer == null) return
    if ('alias' in change) peer.alias = change.alias
    if (change.addrs != null) peer.addrs = change.addrs.slice(0, MAX_ADDRS_PER_PEER)
    await this.save()
  }

  /** Resolves once the state as of this call is on disk. */
  async save (): Promise<void> {
    this.dirty = true
    const next = this.saving.then(async () => {
      if (!this.dirty) return
      this.dirty = false
      const file: TrustFile = { version: 1, peers: this.list() }
      await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + '\n', 0o600)
    })
    // a failed write must not wedge later ones; the caller of this save sees the error
    this.saving = next.catch(() => {})
    await next
  }
}

/** Temp files of a writer killed before its rename: the real file is intact. */
async function removeStaleTemps (path: string): Promise<void> {
  const prefix = `.${basename(path)}.`
  const dir = dirname(path)
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => {})
  }
}

export function parseTrustFile (text: string, path: string): PairedPeer[] {
  let data: any
  try {
    data = JSON.parse(text)
  } catch (err: any) {
    throw new UserError(`trust store ${path} is not valid JSON (${err.message}); restore it from a backup or move it away`)
  }
  if (data?.version !== 1 || !Array.isArray(data.peers)) {
    throw new UserError(`trust store ${path} has an unknown format (expected version 1)`)
  }
  const peers: PairedPeer[] = []
  for (const p of data.peers) {
    try {
      peerIdFromString(String(p.id))
    } catch {
      throw new UserError(`trust store ${path} lists an invalid peer id '${String(p.id)}'`)
    }
    peers.push({
      id: String(p.id),
      alias: typeof p.alias === 'string' ? p.alias : undefined,
      addrs: Array.isArray(p.addrs) ? p.addrs.filter((a: unknown) => typeof a === 'string') : [],
      pairedAt: Number.isFinite(p.pairedAt) ? p.pairedAt : 0
    })
  }
  return peers
}
