import { createHash, randomBytes, type Hash } from 'node:crypto'
import { closeSync, constants as fsConstants, fchmodSync, openSync, renameSync, unlinkSync, utimesSync, writeSync } from 'node:fs'
import { chmod, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { decodeDirectory, hex, LruMap, sha256, EMPTY_BLOB, type Directory, type Hex } from './tree.js'
import { DEFAULT_STORE_BYTES } from './constants.js'
import { logged } from '../debug.js'

const log = logger('kappa:store')

const HEX = /^[0-9a-f]{64}$/

interface Entry { size: number, usedAt: number }

/**
 * A node's content-addressed store (`$KAPPA_HOME/store`): blobs (file
 * contents, executables) by sha256 and Directory messages by digest. Every
 * digest is verified on arrival; what is stored is never written again (a
 * job gets copies, never the stored file, so it can never alter the store).
 * Size-capped: past the cap the least recently used entries go, except those
 * a running job holds (pin).
 */
export class ContentStore {
  private readonly blobs = new Map<Hex, Entry>()
  private readonly dirs = new Map<Hex, Entry>()
  private readonly decoded = new LruMap<Hex, Directory>(8192)
  private readonly pins = new Map<Hex, number>()
  private total = 0
  readonly blobDir: string
  readonly dirDir: string
  private readonly tmpDir: string

  constructor (readonly dir: string, private readonly maxBytes = DEFAULT_STORE_BYTES, private readonly now: () => number = Date.now) {
    this.blobDir = join(dir, 'blobs')
    this.dirDir = join(dir, 'dirs')
    this.tmpDir = join(dir, 'tmp')
  }

  /** Reads the index from disk (modification time = last use); leftovers of a crash go. */
  async open (): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true })
    for (const d of [this.dir, this.blobDir, this.dirDir, this.tmpDir]) await mkdir(d, { recursive: true, mode: 0o700 })
    for (const [sub, index] of [[this.blobDir, this.blobs], [this.dirDir, this.dirs]] as const) {
      for (const name of await readdir(sub)) {
        if (!HEX.test(name)) { await rm(join(sub, name), { force: true, recursive: true }); continue }
        const st = await stat(join(sub, name)).catch(() => undefined)
        if (st == null) continue
        index.set(name, { size: st.size, usedAt: st.mtimeMs })
        this.total += st.size
      }
    }
    // the empty blob is always there
    if (!this.blobs.has(EMPTY_BLOB)) {
      const h = await open(join(this.blobDir, EMPTY_BLOB), 'w', 0o555)
      await h.close()
      this.blobs.set(EMPTY_BLOB, { size: 0, usedAt: this.now() })
    }
    log('store %s: %d blobs, %d directories, %d bytes', this.dir, this.blobs.size, this.dirs.size, this.total)
  }

  get bytes (): number {
    return this.total
  }

  hasBlob (digest: Hex): boolean {
    return this.blobs.has(digest)
  }

  hasDirectory (digest: Hex): boolean {
    return this.dirs.has(digest)
  }

  blobPath (digest: Hex): string {
    return join(this.blobDir, digest)
  }

  /**
   * Marks a blob as used now (eviction order; on disk too, for the next
   * start). One utimes, synchronous: no thread-pool trip per placed file.
   */
  touch (digest: Hex): void {
    const e = this.blobs.get(digest)
    if (e == null) return
    e.usedAt = this.now()
    try {
      utimesSync(this.blobPath(digest), e.usedAt / 1000, e.usedAt / 1000)
    } catch (err) {
      log('touch %s: %s', digest, (err as Error).message)
    }
  }

  /** A Directory message by digest, decoded (and checked), if stored. */
  directory (digest: Hex): Directory | undefined {
    const hit = this.decoded.get(digest)
    if (hit != null) return hit
    return undefined
  }

  /** Loads a stored Directory into memory; undefined if it is not stored (or was damaged: then it is dropped). */
  async loadDirectory (digest: Hex): Promise<Directory | undefined> {
    const hit = this.decoded.get(digest)
    if (hit != null) return hit
    if (!this.dirs.has(digest)) return undefined
    try {
      const bytes = await readFile(join(this.dirDir, digest))
      if (hex(sha256(bytes)) !== digest) throw new Error('digest mismatch')
      const dir = decodeDirectory(bytes)
      this.decoded.set(digest, dir)
      const e = this.dirs.get(digest)
      if (e != null) e.usedAt = this.now()
      return dir
    } catch (err) {
      log('directory %s unusable (%s): dropped', digest, (err as Error).message)
      await this.remove(this.dirs, this.dirDir, digest)
      return undefined
    }
  }

  /** Stores a Directory message a peer sent: its digest is computed here, its content checked. */
  async putDirectory (bytes: Uint8Array): Promise<Hex> {
    const digest = hex(sha256(bytes))
    const dir = decodeDirectory(bytes)
    this.decoded.set(digest, dir)
    if (this.dirs.has(digest)) return digest
    const tmp = join(this.tmpDir, `${digest}.${randomBytes(4).toString('hex')}`)
    const h = await open(tmp, 'w', 0o400)
    try {
      await h.writeFile(bytes)
    } finally {
      await h.close()
    }
    await rename(tmp, join(this.dirDir, digest))
    this.dirs.set(digest, { size: bytes.byteLength, usedAt: this.now() })
    this.total += bytes.byteLength
    return digest
  }

  /** A blob arriving in pieces: written to a temp file, stored once its size and digest check out. */
  async receive (digest: Hex, size: number): Promise<IncomingBlob> {
    if (!HEX.test(digest)) throw new Error('malformed blob digest')
    const tmp = join(this.tmpDir, `${digest}.${randomBytes(4).toString('hex')}`)
    const handle = await open(tmp, 'wx', 0o600)
    return new IncomingBlob(this, digest, size, tmp, handle)
  }

  /**
   * A small blob that arrived whole (one frame): checked, then written and
   * renamed into place with synchronous calls (SMALL_FILE_BYTES says why).
   */
  async putSmall (digest: Hex, data: Uint8Array): Promise<void> {
    if (!HEX.test(digest)) throw new Error('malformed blob digest')
    if (createHash('sha256').update(data).digest('hex') !== digest) throw new Error(`blob ${digest.slice(0, 12)} does not match its digest`)
    if (this.blobs.has(digest)) return
    const tmp = join(this.tmpDir, `${digest}.${randomBytes(4).toString('hex')}`)
    try {
      const fd = openSync(tmp, 'wx', 0o600)
      try {
        for (let off = 0; off < data.byteLength;) off += writeSync(fd, data, off)
        // as the async path: 0o555 whatever the umask (a toolchain blob is read by the job user)
        fchmodSync(fd, 0o555)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, this.blobPath(digest))
    } catch (err) {
      try { unlinkSync(tmp) } catch (e) { log('removing a temporary file: %s', (e as Error).message) }
      throw err
    }
    await this.admit(digest, data.byteLength)
  }

  /** @internal: a verified temp file becomes the blob. */
  async adopt (digest: Hex, tmp: string, size: number): Promise<void> {
    if (this.blobs.has(digest)) {
      await unlink(tmp).catch(logged(log, 'removing a temporary file'))
      return
    }
    await rename(tmp, this.blobPath(digest))
    await this.admit(digest, size)
  }

  /** A blob now in place counts towards the store's size, and the least recently used go if it is over. */
  private async admit (digest: Hex, size: number): Promise<void> {
    this.blobs.set(digest, { size, usedAt: this.now() })
    this.total += size
    await this.evict()
  }

  /**
   * A file this node produced itself (a job's output, hashed here): stored
   * by hard link where it can (the job is over: nothing writes it again),
   * else by copy.
   */
  async putFile (path: string, digest: Hex, size: number): Promise<void> {
    if (this.blobs.has(digest)) return
    const tmp = join(this.tmpDir, `${digest}.${randomBytes(4).toString('hex')}`)
    try {
      await link(path, tmp)
    } catch {
      await copyFile(path, tmp, fsConstants.COPYFILE_FICLONE)
    }
    await chmod(tmp, 0o555)
    await this.adopt(digest, tmp, size)
  }

  /** Keeps these blobs and directories from eviction until `unpin` (a job is using them). */
  pin (digests: Iterable<Hex>): Hex[] {
    const list = [...digests]
    for (const d of list) this.pins.set(d, (this.pins.get(d) ?? 0) + 1)
    return list
  }

  unpin (digests: Iterable<Hex>): void {
    for (const d of digests) {
      const n = (this.pins.get(d) ?? 0) - 1
      if (n <= 0) this.pins.delete(d)
      else this.pins.set(d, n)
    }
  }

  /** Least recently used first, until the store is under its cap. */
  async evict (): Promise<void> {
    if (this.total <= this.maxBytes) return
    const all = [
      ...[...this.blobs].map(([d, e]) => ({ d, e, index: this.blobs, dir: this.blobDir })),
      ...[...this.dirs].map(([d, e]) => ({ d, e, index: this.dirs, dir: this.dirDir }))
    ].sort((a, b) => a.e.usedAt - b.e.usedAt)
    for (const { d, index, dir } of all) {
      if (this.total <= this.maxBytes) break
      if (this.pins.has(d) || d === EMPTY_BLOB) continue
      await this.remove(index, dir, d)
    }
  }

  private async remove (index: Map<Hex, Entry>, dir: string, digest: Hex): Promise<void> {
    const e = index.get(digest)
    if (e == null) return
    index.delete(digest)
    this.decoded.delete(digest)
    this.total -= e.size
    await rm(join(dir, digest), { force: true }).catch((err) => { log('evict %s: %s', digest, err.message) })
  }
}

export class IncomingBlob {
  private readonly hash: Hash = createHash('sha256')
  written = 0
  private done = false

  constructor (private readonly store: ContentStore, readonly digest: Hex, readonly size: number, private readonly tmp: string, private readonly handle: FileHandle) {}

  get complete (): boolean {
    return this.written === this.size
  }

  async write (data: Uint8Array): Promise<void> {
    if (this.written + data.byteLength > this.size) throw new Error(`blob ${this.digest.slice(0, 12)}: more data than announced`)
    this.hash.update(data)
    await this.handle.write(data)
    this.written += data.byteLength
  }

  /** Checks size and digest, then the blob is in the store. */
  async finish (): Promise<void> {
    this.done = true
    await this.handle.chmod(0o555)
    await this.handle.close()
    if (this.written !== this.size || this.hash.digest('hex') !== this.digest) {
      await unlink(this.tmp).catch(logged(log, 'removing a temporary file'))
      throw new Error(`blob ${this.digest.slice(0, 12)} does not match its digest`)
    }
    await this.store.adopt(this.digest, this.tmp, this.size)
  }

  async discard (): Promise<void> {
    if (this.done) return
    this.done = true
    await this.handle.close().catch(logged(log, 'closing a file'))
    await unlink(this.tmp).catch(logged(log, 'removing a temporary file'))
  }
}
