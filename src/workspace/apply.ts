import { createHash, type Hash } from 'node:crypto'
import { constants as fsConstants, type Stats } from 'node:fs'
import { chmod, copyFile, lstat, mkdir, open, readlink, rename, rm, symlink, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { IGNORE_FILE, MAX_CHANGE_BYTES, MAX_CHANGE_FILES, MAX_PATH_BYTES, MAX_SYMLINK_BYTES, SMALL_FILE_BYTES, WORKSPACE_MARKER, temporaryName } from './constants.js'
import { safeName, type Hex, type TreeEntry } from './tree.js'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('workspace:apply')

/** A change set the origin will not apply: one line saying why; nothing was written. */
export class ChangeRefused extends Error {
  override name = 'ChangeRefused'
}

/** A change as it arrives from a target (untrusted). */
export interface IncomingChange {
  kind: 'delete' | 'directory' | 'file' | 'symlink' | 'mode'
  path: string
  digest?: Hex
  size?: number
  mode?: number
  target?: string
}

export interface ApplyContext {
  /** the workspace root (absolute) */
  root: string
  /** the tree the job started from */
  lookup: (rel: string) => TreeEntry | undefined
  ignored: (rel: string, isDir: boolean) => boolean
  /** the origin's umask: a mode it would never give a new file is refused */
  umask: number
  maxFiles?: number
  maxBytes?: number
}

/** What was written, for the origin's stat cache (it need not read these files again). */
export interface Written {
  path: string
  digest: Buffer
  stat: Stats
  /** a small file's content as written (the scanner keeps it: make may rename the file before a job's target asks for it) */
  data?: Buffer
}

const RANK = { delete: 0, directory: 1, file: 2, symlink: 3, mode: 4 }

function depth (path: string): number {
  return path.split('/').length
}

/** A path a target names: relative, '/'-separated, normal, short, outside .git and the ignore rules. */
function checkPath (ctx: ApplyContext, path: string, isDir: boolean): void {
  if (path === '') throw new ChangeRefused('a change names the workspace root itself')
  if (path.startsWith('/')) throw new ChangeRefused(`a change names the absolute path ${path}`)
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw new ChangeRefused(`a change names a path over ${MAX_PATH_BYTES} bytes`)
  const parts = path.split('/')
  if (parts.includes('..')) throw new ChangeRefused(`a change names ${path}, outside the workspace`)
  if (!parts.every(safeName)) throw new ChangeRefused(`a change names the malformed path '${path}'`)
  if (parts.includes('.git')) throw new ChangeRefused(`a change writes into .git (${path})`)
  if (path === IGNORE_FILE || path === WORKSPACE_MARKER) throw new ChangeRefused(`a change rewrites ${path}`)
  if (ctx.ignored(path, isDir)) throw new ChangeRefused(`a change writes ${path}, which ${IGNORE_FILE} excludes`)
}

function checkMode (ctx: ApplyContext, c: IncomingChange): number {
  const mode = c.mode ?? 0
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new ChangeRefused(`${c.path}: malformed mode`)
  if ((mode & 0o7000) !== 0) throw new ChangeRefused(`${c.path}: mode ${mode.toString(8)} has setuid, setgid or sticky bits`)
  const before = ctx.lookup(c.path)
  const had = before != null && before.kind !== 'symlink' ? before.mode : undefined
  if ((mode & ctx.umask) !== 0 && had !== mode) {
    throw new ChangeRefused(`${c.path}: mode ${mode.toString(8).padStart(4, '0')} is not one this origin's umask ${ctx.umask.toString(8).padStart(3, '0')} gives`)
  }
  return mode
}

/** The file that will hold a blob here until the commit. */
interface Staged { change: IncomingChange, tmp: string, handle?: FileHandle }

/**
 * Applies a job's change set inside the workspace, as a whole or not at
 * all: the manifest is validated before anything is written (paths, kinds,
 * modes, sizes, totals, no path through a symlink), blobs are staged in temp
 * files beside their targets and verified, and only then is everything put
 * in place, each file atomically (rename), never following a symlink.
 */
export class ChangeApplier {
  private readonly staged = new Map<Hex, Staged[]>()
  private readonly received = new Set<Hex>()
  private readonly sinks = new Map<Hex, BlobSink>()
  private readonly stagedPaths: string[] = []

  private constructor (private readonly ctx: ApplyContext, readonly changes: IncomingChange[]) {}

  /** Validates the whole manifest; refuses (ChangeRefused) before anything is written. */
  static async prepare (ctx: ApplyContext, changes: IncomingChange[], announced: { files: number, bytes: number }): Promise<ChangeApplier> {
    const maxFiles = ctx.maxFiles ?? MAX_CHANGE_FILES
    const maxBytes = ctx.maxBytes ?? MAX_CHANGE_BYTES
    if (changes.length !== announced.files) throw new ChangeRefused(`the change set holds ${changes.length} changes, ${announced.files} were announced`)
    if (changes.length > maxFiles) throw new ChangeRefused(`the change set has ${changes.length} changes, over this origin's limit of ${maxFiles}`)
    const sizes = new Map<Hex, number>()
    const byPath = new Map<string, IncomingChange[]>()
    for (const c of changes) {
      checkPath(ctx, c.path, c.kind === 'directory')
      if (c.kind === 'file') {
        if (c.digest == null || !/^[0-9a-f]{64}$/.test(c.digest)) throw new ChangeRefused(`${c.path}: malformed digest`)
        const size = c.size ?? -1
        if (!Number.isSafeInteger(size) || size < 0) throw new ChangeRefused(`${c.path}: malformed size`)
        if (size > maxBytes) throw new ChangeRefused(`${c.path}: ${size} bytes, over this origin's limit of ${maxBytes}`)
        const known = sizes.get(c.digest)
        if (known != null && known !== size) throw new ChangeRefused(`${c.path}: one digest with two sizes`)
        sizes.set(c.digest, size)
      }
      if (c.kind === 'file' || c.kind === 'directory' || c.kind === 'mode') c.mode = checkMode(ctx, c)
      if (c.kind === 'symlink' && (c.target == null || c.target === '' || c.target.includes('\0') || Buffer.byteLength(c.target) > MAX_SYMLINK_BYTES)) throw new ChangeRefused(`${c.path}: malformed symlink`)
      const list = byPath.get(c.path) ?? []
      list.push(c)
      byPath.set(c.path, list)
    }
    let bytes = 0
    for (const s of sizes.values()) bytes += s
    if (bytes > maxBytes) throw new ChangeRefused(`the change set carries ${bytes} bytes, over this origin's limit of ${maxBytes}`)
    if (bytes !== announced.bytes) throw new ChangeRefused(`the change set carries ${bytes} bytes, ${announced.bytes} were announced`)
    for (const [path, list] of byPath) {
      // one change a path, or a deletion and what replaces it
      if (list.length > 2 || (list.length === 2 && (list[0].kind !== 'delete' || list[1].kind === 'delete' || list[1].kind === 'mode'))) throw new ChangeRefused(`${path}: conflicting changes`)
    }
    const sorted = [...changes].sort((a, b) => RANK[a.kind] - RANK[b.kind] || (a.kind === 'delete' ? depth(b.path) - depth(a.path) : depth(a.path) - depth(b.path)))
    const applier = new ChangeApplier(ctx, sorted)
    await applier.checkDisk(byPath)
    await applier.stage()
    return applier
  }

  /** Will `rel` be a directory once the set is applied (as far as the set and the disk tell)? */
  private async checkDisk (byPath: Map<string, IncomingChange[]>): Promise<void> {
    const creates = (p: string): IncomingChange | undefined => byPath.get(p)?.find(c => c.kind !== 'delete')
    const deletes = (p: string): boolean => byPath.get(p)?.some(c => c.kind === 'delete') === true
    const checked = new Map<string, 'dir' | 'created'>()
    const parentOk = async (path: string): Promise<void> => {
      const parts = path.split('/')
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/')
        if (checked.has(prefix)) continue
        const made = creates(prefix)
        if (made != null) {
          if (made.kind !== 'directory') throw new ChangeRefused(`${path}: its parent ${prefix} is not a directory in the change set`)
          // what stands there now must go first (or be a directory already)
          const st = await lstat(join(this.ctx.root, prefix)).catch(() => undefined)
          if (st != null && !st.isDirectory() && !deletes(prefix)) throw new ChangeRefused(`${path}: ${prefix} is in the way`)
          if (st?.isSymbolicLink() === true && !deletes(prefix)) throw new ChangeRefused(`${path} goes through the symlink ${prefix}`)
          checked.set(prefix, 'created')
          continue
        }
        const st = await lstat(join(this.ctx.root, prefix)).catch(() => undefined)
        if (st?.isSymbolicLink() === true) throw new ChangeRefused(`${path} goes through the symlink ${prefix}`)
        if (st == null || !st.isDirectory() || deletes(prefix)) throw new ChangeRefused(`${path}: its directory ${prefix} does not exist`)
        checked.set(prefix, 'dir')
      }
    }
    for (const c of this.changes) {
      await parentOk(c.path)
      if (c.kind === 'delete') continue
      const st = await lstat(join(this.ctx.root, c.path)).catch(() => undefined)
      if (c.kind === 'mode') {
        if (st == null || st.isSymbolicLink()) throw new ChangeRefused(`${c.path}: no file or directory to change the mode of`)
      } else if (st?.isDirectory() === true && !deletes(c.path) && c.kind !== 'directory') {
        throw new ChangeRefused(`${c.path}: a directory is in the way`)
      }
    }
  }

  /** Where a new file is staged: the nearest directory that exists now (so the rename stays on one file system). */
  private async stageDir (path: string): Promise<string> {
    let dir = dirname(path)
    for (;;) {
      if (dir === '.' || dir === '') return this.ctx.root
      const st = await lstat(join(this.ctx.root, dir)).catch(() => undefined)
      if (st?.isDirectory() === true) return join(this.ctx.root, dir)
      dir = dirname(dir)
    }
  }

  private async stage (): Promise<void> {
    try {
      for (const c of this.changes) {
        if (c.kind !== 'file') continue
        const tmp = join(await this.stageDir(c.path), temporaryName())
        const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600)
        this.stagedPaths.push(tmp)
        const list = this.staged.get(c.digest as Hex) ?? []
        list.push({ change: c, tmp, handle })
        this.staged.set(c.digest as Hex, list)
      }
    } catch (err) {
      await this.abort()
      throw err
    }
  }

  /** The blobs that must follow, each once: digest → size. */
  expected (): Map<Hex, number> {
    const out = new Map<Hex, number>()
    for (const [d, list] of this.staged) if (!this.received.has(d)) out.set(d, list[0].change.size as number)
    return out
  }

  /** A blob of the set arrives: written to its first staged file, verified at the end. */
  blob (digest: Hex, size: number): BlobSink {
    const list = this.staged.get(digest)
    if (list == null || this.received.has(digest)) throw new ChangeRefused(`a blob that the change set does not name (${digest.slice(0, 12)})`)
    if (list[0].change.size !== size) throw new ChangeRefused(`blob ${digest.slice(0, 12)}: ${size} bytes, ${String(list[0].change.size)} were announced`)
    this.received.add(digest)
    const sink = new BlobSink(digest, size, list)
    this.sinks.set(digest, sink)
    return sink
  }

  /** Every blob arrived: the files, directories, symlinks and modes go in place. Returns the paths changed here meanwhile (the job's version wins) and what was written. */
  async commit (): Promise<{ conflicts: string[], written: Written[] }> {
    for (const d of this.staged.keys()) if (!this.received.has(d)) throw new ChangeRefused(`blob ${d.slice(0, 12)} never came`)
    const conflicts: string[] = []
    for (const c of this.changes) if (c.kind !== 'delete' && await this.changedHere(c.path)) conflicts.push(c.path)
    const written: Written[] = []
    const root = this.ctx.root
    const staged = new Map<string, Staged>()
    for (const list of this.staged.values()) for (const s of list) staged.set(s.change.path, s)
    for (const c of this.changes) {
      const abs = join(root, c.path)
      if (c.kind === 'delete') {
        const st = await lstat(abs).catch(() => undefined)
        // already gone here as well: the same outcome, not a conflict
        if (st != null && await this.changedHere(c.path)) conflicts.push(c.path)
        if (st?.isDirectory() === true) await rm(abs, { recursive: true, force: true })
        else if (st != null) await unlink(abs)
      } else if (c.kind === 'directory') {
        await mkdir(abs).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
        await chmodNoFollow(abs, c.mode as number)
      } else if (c.kind === 'file') {
        const s = staged.get(c.path) as Staged
        await rename(s.tmp, abs)
        const st = await lstat(abs)
        written.push({ path: c.path, digest: Buffer.from(c.digest as Hex, 'hex'), stat: st, data: this.sinks.get(c.digest as Hex)?.content })
      } else if (c.kind === 'symlink') {
        const tmp = join(dirname(abs), temporaryName())
        await symlink(c.target as string, tmp)
        await rename(tmp, abs)
      } else {
        await chmodNoFollow(abs, c.mode as number)
      }
    }
    this.stagedPaths.length = 0
    return { conflicts: [...new Set(conflicts)], written }
  }

  /** Did the origin change `rel` after the job's snapshot? */
  private async changedHere (rel: string): Promise<boolean> {
    const was = this.ctx.lookup(rel)
    const st = await lstat(join(this.ctx.root, rel)).catch(() => undefined)
    if (was == null) return st != null
    if (st == null) return true
    if (was.kind === 'dir') return !st.isDirectory()
    if (was.kind === 'symlink') return !st.isSymbolicLink() || await readlink(join(this.ctx.root, rel)) !== was.target
    return !st.isFile() || st.size !== was.size || Math.floor(st.mtimeMs) !== was.mtimeMs
  }

  /** Nothing is applied: staged files go. */
  async abort (): Promise<void> {
    for (const list of this.staged.values()) for (const s of list) await s.handle?.close().catch(logged(debug, 'closing a staged file'))
    for (const tmp of this.stagedPaths) await unlink(tmp).catch(logged(debug, 'removing a temporary file'))
    this.stagedPaths.length = 0
  }
}

async function chmodNoFollow (path: string, mode: number): Promise<void> {
  const h = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
  try {
    await h.chmod(mode)
  } finally {
    await h.close()
  }
}

/** One blob of a change set: hashed as written, checked at `finish`, then copied to the other paths that share it. */
export class BlobSink {
  private readonly hash: Hash = createHash('sha256')
  written = 0
  /** a small blob's bytes, once finished (kept for the scanner: see Written.data) */
  content?: Buffer
  private readonly held?: Buffer[]

  constructor (readonly digest: Hex, readonly size: number, private readonly targets: Staged[]) {
    if (size <= SMALL_FILE_BYTES) this.held = []
  }

  get complete (): boolean {
    return this.written === this.size
  }

  async write (data: Uint8Array): Promise<void> {
    if (this.written + data.byteLength > this.size) throw new ChangeRefused(`blob ${this.digest.slice(0, 12)}: more data than announced`)
    this.hash.update(data)
    // a copy: the frame's bytes may be reused once the next one is read
    this.held?.push(Buffer.from(data))
    await (this.targets[0].handle as FileHandle).write(data)
    this.written += data.byteLength
  }

  async finish (): Promise<void> {
    if (this.written !== this.size || this.hash.digest('hex') !== this.digest) throw new ChangeRefused(`blob ${this.digest.slice(0, 12)} does not match its digest`)
    if (this.held != null) this.content = Buffer.concat(this.held)
    const first = this.targets[0]
    for (const s of this.targets) {
      await s.handle?.close()
      s.handle = undefined
      // the other paths with this content get copies of the first
      if (s !== first) {
        await unlink(s.tmp)
        await copyFile(first.tmp, s.tmp, fsConstants.COPYFILE_EXCL)
      }
      await chmod(s.tmp, s.change.mode as number)
    }
  }
}
