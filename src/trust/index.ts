import { readFile, readdir, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { writeFileAtomic } from '../home/index.js'
import { UserError } from '../errors.js'
import { MAX_ADDRS_PER_PEER, MAX_ALIAS_LENGTH } from '../constants.js'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('trust')

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
 * The paired peers, kept in memory (so access checks are synchronous) and
 * in `trust.json`. A change reaches memory only once it is on disk: each
 * change is applied to a copy, the copy is written atomically, and only then
 * does it become the state every handler checks. A write that fails (a full
 * disk) changes nothing and is the caller's one-line error; one write at a
 * time, so a crash leaves the previous or the next complete file.
 */
export class TrustStore {
  private peers = new Map<string, PairedPeer>()
  /** changes waiting for the next write, and whether one is under way */
  private queued: Array<{ change: (peers: Map<string, PairedPeer>) => boolean, resolve: (changed: boolean) => void, reject: (err: Error) => void }> = []
  private writing = false

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
    return sortedPeers(this.peers)
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
    await this.commit((peers) => {
      peers.set(peer.id, { ...peer, addrs: peer.addrs.slice(0, MAX_ADDRS_PER_PEER) })
      return true
    })
  }

  async remove (id: string): Promise<boolean> {
    return await this.commit((peers) => peers.delete(id))
  }

  async update (id: string, change: Partial<Pick<PairedPeer, 'alias' | 'addrs'>>): Promise<void> {
    await this.commit((peers) => {
      const peer = peers.get(id)
      if (peer == null) return false
      if ('alias' in change) peer.alias = change.alias
      if (change.addrs != null) peer.addrs = change.addrs.slice(0, MAX_ADDRS_PER_PEER)
      return true
    })
  }

  /**
   * Applies `change` to a copy of the peers and, once that copy is on disk,
   * makes it the state; resolves whether it changed anything. Changes that
   * come while a write is under way are written together by the next one
   * (group commit), in the order they came.
   */
  private async commit (change: (peers: Map<string, PairedPeer>) => boolean): Promise<boolean> {
    return await new Promise<boolean>((resolve, reject) => {
      this.queued.push({ change, resolve, reject })
      if (!this.writing) void this.writeQueued()
    })
  }

  private async writeQueued (): Promise<void> {
    this.writing = true
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0)
      const next = new Map([...this.peers].map(([id, p]) => [id, { ...p, addrs: [...p.addrs] }]))
      const changed = batch.map(({ change }) => change(next))
      if (changed.some(c => c)) {
        try {
          const file: TrustFile = { version: 1, peers: sortedPeers(next) }
          await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + '\n', 0o600)
        } catch (err: any) {
          // none of them happened: each caller hears it, and the state stays what the disk says
          const failure = new TrustWriteError(`cannot write the trust store ${this.path} (${String(err.code ?? err.message)}); nothing was changed`)
          for (const { reject } of batch) reject(failure)
          continue
        }
        this.peers = next
      }
      batch.forEach(({ resolve }, i) => { resolve(changed[i]) })
    }
    this.writing = false
  }
}

/** The trust store could not be written: the change it carried did not happen. */
export class TrustWriteError extends UserError {
  override name = 'TrustWriteError'
}

function sortedPeers (peers: Map<string, PairedPeer>): PairedPeer[] {
  return [...peers.values()].sort((a, b) => a.pairedAt - b.pairedAt)
}

/** Temp files of a writer killed before its rename: the real file is intact. */
async function removeStaleTemps (path: string): Promise<void> {
  const prefix = `.${basename(path)}.`
  const dir = dirname(path)
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(logged(debug, 'removing a left-over temporary file'))
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
