import { lstatSync, watch, constants as fsConstants, type FSWatcher, type Stats } from 'node:fs'
import { lstat, open, readdir, readlink } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { setImmediate } from 'node:timers/promises'
import { basename, join } from 'node:path'
import ignoreFactory, { type Ignore } from 'ignore'
import { logger } from '@libp2p/logger'
import { serializer } from '../serialize.js'
import { UserError } from '../errors.js'
import {
  IGNORE_FILE, MAX_CACHED_WORKSPACES, MAX_DIRECTORY_BYTES, MAX_WORKSPACE_BYTES, MAX_WORKSPACE_FILES, RACY_MS, RECENT_CONTENT_BYTES, SMALL_FILE_BYTES, TEMPORARY_NAME, WATCH_IDLE_MS
} from './constants.js'
import { decodeDirectory, encodeDirectory, entriesOf, hex, lookup, LruMap, sha256, type Directory, type Hex, type TreeEntry } from './tree.js'
import { readSmall, RecentContent } from './blob.js'
import { SyncTurns } from './turns.js'

const log = logger('kappa:workspace')

/** `read` bytes were read, and the file's stat after the read is the one before it: the hash is of one version. */
function unchangedWhileRead (read: number, before: Stats, after: Stats): boolean {
  return read === after.size && after.size === before.size && after.mtimeMs === before.mtimeMs && after.ctimeMs === before.ctimeMs
}

/** Files hashed or stat'ed at once during a scan. */
const SCAN_CONCURRENCY = 32
/** Files up to this size are read in one call; larger ones are streamed through the hash. */
const READ_WHOLE_BYTES = 1024 * 1024

/** A workspace as it was at one moment: immutable, shared by a job for its whole life. */
export interface Snapshot {
  /** absolute path of the workspace root */
  root: string
  digest: Hex
  rootMode: number
  files: number
  bytes: number
  /** every Directory message of the tree, encoded, by digest */
  directories: ReadonlyMap<Hex, Uint8Array>
  takenAt: number
  directory: (digest: Hex) => Directory | undefined
  lookup: (rel: string) => TreeEntry | undefined
  /** a file with this content: its path (relative to the root) and size */
  blob: (digest: Hex) => { path: string, size: number } | undefined
  /** that content itself, when the scanner still holds it (a small file it hashed lately): what to send, whatever the file holds by now */
  content: (digest: Hex) => Buffer | undefined
  /** does the ignore file exclude this path (relative, '/'-separated)? */
  ignored: (rel: string, isDir: boolean) => boolean
}

export interface WorkspaceScannerInit {
  /** how directories are watched (tests inject failures); default fs.watch */
  watch?: (path: string, listener: (event: string, name: string | null) => void) => FSWatcher
  now?: () => number
  idleMs?: number
  maxFiles?: number
  maxBytes?: number
}

interface FileState { size: number, mtimeMs: number, ctimeMs: number, ino: number, mode: number, digest: Buffer, racy: boolean }

class DirState {
  mode = 0o755
  /** the directory's inode when it was first read: another one at the same path is a new directory */
  ino = 0
  readonly files = new Map<string, FileState>()
  readonly symlinks = new Map<string, string>()
  readonly dirs = new Map<string, DirState>()
  dirty = true
  /**
   * The entries inotify named since the last read, when that is all that
   * changed; undefined: read the whole directory (first read, an event
   * without a name or about the directory itself, a full scan, too many).
   */
  changed?: Set<string>
  encoded?: { message: Uint8Array, digest: Hex, files: number, bytes: number }
  watcher?: FSWatcher
  constructor (readonly rel: string, readonly parent?: DirState) {}
}

class Workspace {
  top = new DirState('')
  ignore: Ignore = ignoreFactory()
  ignoreDigest: Hex = ''
  /** paths (relative to the root) left out whatever the ignore file says */
  excluded = new Set<string>()
  watching = true
  lastUsed = 0
  idle?: NodeJS.Timeout
  /** snapshots of one workspace, one at a time */
  readonly turn = serializer(log)
  /**
   * Where each digest was last hashed: a snapshot finds a blob a target asks
   * for here (checked against the snapshot's own tree) instead of walking
   * the whole tree, which each new snapshot of a build would do for every job
   */
  readonly hashedAt = new LruMap<Hex, string>(2 * MAX_WORKSPACE_FILES)
  constructor (readonly root: string) {}
}

/** Runs at most `n` of the given tasks at once. */
async function inParallel<T> (items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
}

/** Lets the event loop read what inotify queued before now (writes made before the request). */
async function pendingEvents (): Promise<void> {
  for (let i = 0; i < 2; i++) await setImmediate()
}

function sameStat (a: FileState, st: Stats): boolean {
  return a.size === st.size && a.mtimeMs === st.mtimeMs && a.ctimeMs === st.ctimeMs && a.ino === st.ino
}

/**
 * The origin's view of its workspaces: a Merkle tree per workspace root,
 * kept in memory and brought up to date on each snapshot by re-reading only
 * the directories inotify said changed (one fs.watch per directory). A file
 * is hashed again only when its (size, mtime, ctime, inode) changed or it was
 * hashed within RACY_MS of its mtime. Where watching fails (ENOSPC: the
 * inotify watch limit; any watcher error), that workspace falls back to a
 * full stat scan on every snapshot, still hashing only what changed.
 */
export class WorkspaceScanner {
  private readonly workspaces = new Map<string, Workspace>()
  private readonly decoded = new LruMap<Hex, Directory>(4096)
  private readonly recent = new RecentContent(RECENT_CONTENT_BYTES)
  private readonly watchDir: NonNullable<WorkspaceScannerInit['watch']>
  private readonly now: () => number
  private readonly idleMs: number
  private readonly maxFiles: number
  private readonly maxBytes: number
  private readonly turns = new SyncTurns()

  constructor (init: WorkspaceScannerInit = {}) {
    this.watchDir = init.watch ?? ((path, listener) => watch(path, { persistent: false }, listener))
    this.now = init.now ?? Date.now
    this.idleMs = init.idleMs ?? WATCH_IDLE_MS
    this.maxFiles = init.maxFiles ?? MAX_WORKSPACE_FILES
    this.maxBytes = init.maxBytes ?? MAX_WORKSPACE_BYTES
  }

  /**
   * The workspace at `root` as it is now (writes made before this call are
   * seen). `exclude`: absolute paths left out whatever .kappaignore says
   * (the node's own home, credential directories).
   */
  async snapshot (root: string, exclude: readonly string[] = []): Promise<Snapshot> {
    const excluded = new Set(exclude.filter(p => p.startsWith(`${root}/`)).map(p => p.slice(root.length + 1)))
    let ws = this.workspaces.get(root)
    if (ws != null && !sameSet(ws.excluded, excluded)) {
      this.drop(ws)
      this.workspaces.delete(root)
      ws = undefined
    }
    if (ws == null) {
      ws = new Workspace(root)
      ws.excluded = excluded
      this.workspaces.set(root, ws)
      this.evictWorkspaces()
    } else {
      // most recently used last
      this.workspaces.delete(root)
      this.workspaces.set(root, ws)
    }
    const current = ws
    return await current.turn(async () => await this.take(current))
  }

  /** Is `root` watched (false once it fell back to full scans)? */
  watching (root: string): boolean | undefined {
    return this.workspaces.get(root)?.watching
  }

  /**
   * The origin itself wrote `rel` (a job's change set) with this content:
   * the next snapshot need not read it again (and, given `data`, a job can
   * be sent it after make has renamed the file).
   */
  recordWrite (root: string, rel: string, st: Stats, digest: Buffer, data?: Buffer): void {
    const ws = this.workspaces.get(root)
    if (ws == null) return
    if (data != null) this.recent.put(digest.toString('hex'), data)
    const parts = rel.split('/')
    const name = parts.pop() as string
    let dir: DirState | undefined = ws.top
    for (const p of parts) dir = dir?.dirs.get(p)
    if (dir == null) return
    dir.symlinks.delete(name)
    dir.files.set(name, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, mode: st.mode & 0o777, digest, racy: false })
    noteChanged(dir, name)
  }

  close (): void {
    for (const ws of this.workspaces.values()) this.drop(ws)
    this.workspaces.clear()
  }

  private evictWorkspaces (): void {
    while (this.workspaces.size > MAX_CACHED_WORKSPACES) {
      const oldest = this.workspaces.values().next().value as Workspace
      this.drop(oldest)
      this.workspaces.delete(oldest.root)
    }
  }

  private drop (ws: Workspace): void {
    if (ws.idle != null) clearTimeout(ws.idle)
    unwatch(ws.top)
  }

  private async take (ws: Workspace): Promise<Snapshot> {
    ws.lastUsed = this.now()
    if (ws.idle != null) clearTimeout(ws.idle)
    ws.idle = setTimeout(() => {
      log('workspace %s idle: watchers dropped', ws.root)
      this.drop(ws)
      this.workspaces.delete(ws.root)
    }, this.idleMs)
    ws.idle.unref()
    await pendingEvents()
    try {
      return await this.refreshAll(ws)
    } catch (err) {
      // a half-read state is of no use: the next snapshot starts over
      this.drop(ws)
      this.workspaces.delete(ws.root)
      throw err
    }
  }

  private async refreshAll (ws: Workspace): Promise<Snapshot> {
    for (let attempt = 0; ; attempt++) {
      if (!ws.watching) markAllDirty(ws.top)
      const budget = { files: 0, bytes: 0 }
      const rootStat = await lstat(ws.root).catch((err) => { throw new UserError(`workspace ${ws.root}: ${(err as Error).message}`) })
      if (!rootStat.isDirectory()) throw new UserError(`workspace ${ws.root} is not a directory`)
      // the ignore rules before the tree: a first snapshot reads, hashes and counts only what they keep
      this.loadIgnore(ws)
      if (ws.top.ino !== rootStat.ino) {
        // the root itself was made again: start over (as for a subdirectory, see rescan)
        unwatch(ws.top)
        ws.top = new DirState('')
        ws.top.ino = rootStat.ino
      }
      ws.top.mode = rootStat.mode & 0o777
      await this.refresh(ws, ws.top, budget)
      // the ignore file changed between its read and the tree's: once more with the rules the tree holds
      const ignoreState = ws.top.files.get(IGNORE_FILE)
      if ((ignoreState != null ? hex(ignoreState.digest) : '') !== ws.ignoreDigest && attempt === 0) continue
      return this.freeze(ws, rootStat.mode & 0o777)
    }
  }

  /**
   * Reads the root's ignore file (a regular file, not followed) and, when it
   * is not the one the tree was read with, drops the tree: what it holds
   * depends on the rules.
   */
  private loadIgnore (ws: Workspace): void {
    const path = join(ws.root, IGNORE_FILE)
    let text: Buffer | undefined
    try {
      const st = lstatSync(path)
      // open, read, fstat and close with synchronous calls (SMALL_FILE_BYTES says why)
      if (st.isFile()) text = readSmall(path, st.size, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW).data
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ELOOP') throw unreadable(ws, IGNORE_FILE, err)
    }
    const digest = text != null ? hex(sha256(text)) : ''
    if (digest === ws.ignoreDigest) return
    ws.ignore = ignoreFactory()
    if (text != null) ws.ignore.add(text.toString('utf8'))
    ws.ignoreDigest = digest
    unwatch(ws.top)
    ws.top = new DirState('')
  }

  private overLimit (ws: Workspace, budget: { files: number, bytes: number }): void {
    if (budget.files > this.maxFiles) throw new UserError(`workspace ${ws.root} has over ${this.maxFiles} files: list what jobs do not need in ${join(ws.root, IGNORE_FILE)}, or give a smaller root with --workspace DIR`)
    if (budget.bytes > this.maxBytes) throw new UserError(`workspace ${ws.root} holds over ${Math.round(this.maxBytes / 2 ** 20)} MiB: list what jobs do not need in ${join(ws.root, IGNORE_FILE)}, or give a smaller root with --workspace DIR`)
  }

  /** Brings `dir` and everything below up to date; true if its digest changed. */
  private async refresh (ws: Workspace, dir: DirState, budget: { files: number, bytes: number }): Promise<boolean> {
    let changed = false
    if (dir.dirty) {
      await this.rescan(ws, dir, budget)
      changed = true
    } else {
      let files = 0
      let bytes = 0
      for (const f of dir.files.values()) { files++; bytes += f.size }
      budget.files += files
      budget.bytes += bytes
    }
    this.overLimit(ws, budget)
    await inParallel([...dir.dirs.values()], 4, async (sub) => {
      if (await this.refresh(ws, sub, budget)) changed = true
    })
    if (!changed && dir.encoded != null) return false
    const before = dir.encoded?.digest
    dir.encoded = this.encode(ws, dir)
    return dir.encoded.digest !== before
  }

  private encode (ws: Workspace, dir: DirState): NonNullable<DirState['encoded']> {
    let files = 0
    let bytes = 0
    const message: Directory = { files: [], directories: [], symlinks: [] }
    for (const [name, f] of dir.files) {
      message.files.push({ name, digest: f.digest as Uint8Array<ArrayBuffer>, size: BigInt(f.size), mode: f.mode, mtimeMs: BigInt(Math.floor(f.mtimeMs)) })
      files++
      bytes += f.size
    }
    for (const [name, target] of dir.symlinks) message.symlinks.push({ name, target })
    for (const [name, sub] of dir.dirs) {
      const enc = sub.encoded as NonNullable<DirState['encoded']>
      message.directories.push({ name, digest: Buffer.from(enc.digest, 'hex'), mode: sub.mode })
      files += enc.files
      bytes += enc.bytes
    }
    const { bytes: encoded, digest } = encodeDirectory(message)
    if (encoded.byteLength > MAX_DIRECTORY_BYTES) throw new UserError(`${join(ws.root, dir.rel)} has too many entries for one directory message: list it in ${join(ws.root, IGNORE_FILE)}`)
    return { message: encoded, digest, files, bytes }
  }

  private ensureWatched (ws: Workspace, dir: DirState): void {
    if (!ws.watching || dir.watcher != null) return
    try {
      const path = join(ws.root, dir.rel)
      const watcher = this.watchDir(path, (_event, name) => {
        if (name != null && name !== basename(path)) {
          noteChanged(dir, name)
          return
        }
        markDirty(dir)
        // an event about the directory itself (mode, removal) is news for its parent too
        if (dir.parent != null) markDirty(dir.parent)
        // and a removed directory's watch went with it (rm -rf build && mkdir build, even on the same
        // inode): the next read watches whatever directory stands at the path then
        if (dir.watcher === watcher) {
          watcher.close()
          dir.watcher = undefined
        }
      })
      watcher.on('error', (err) => { this.stopWatching(ws, err) })
      dir.watcher = watcher
    } catch (err) {
      this.stopWatching(ws, err)
    }
  }

  private stopWatching (ws: Workspace, err: unknown): void {
    if (!ws.watching) return
    ws.watching = false
    const code = (err as NodeJS.ErrnoException)?.code
    log('workspace %s: %s; full scans from now on', ws.root, code === 'ENOSPC' ? 'inotify watch limit reached (fs.inotify.max_user_watches)' : `watcher failed (${(err as Error)?.message})`)
    unwatch(ws.top)
  }

  /**
   * Re-reads one directory: its entries, their kinds and stats; hashes what
   * changed. Only the entries inotify named, when it named them all (a build
   * directory of hundreds of objects, one of them new: a few stats instead
   * of hundreds, and no readdir).
   */
  private async rescan (ws: Workspace, dir: DirState, budget: { files: number, bytes: number }): Promise<void> {
    const abs = join(ws.root, dir.rel)
    // watch first, read after: a change made while we read marks it dirty again
    const wasWatched = dir.watcher != null
    this.ensureWatched(ws, dir)
    const named = dir.changed
    dir.dirty = false
    dir.changed = undefined
    if (named != null && wasWatched && ws.watching && dir.encoded != null) {
      for (const [name, f] of dir.files) {
        if (named.has(name)) continue
        budget.files++
        budget.bytes += f.size
      }
      await inParallel([...named], SCAN_CONCURRENCY, async (name) => {
        if (await this.readEntry(ws, dir, abs, name, budget) === 'absent') forget(dir, name)
      })
      return
    }
    let names: string[]
    try {
      names = await readdir(abs)
    } catch (err) {
      throw unreadable(ws, dir.rel, err)
    }
    const seen = new Set<string>()
    await inParallel(names, SCAN_CONCURRENCY, async (name) => {
      if (await this.readEntry(ws, dir, abs, name, budget) !== 'absent') seen.add(name)
    })
    for (const name of dir.files.keys()) if (!seen.has(name)) dir.files.delete(name)
    for (const name of dir.symlinks.keys()) if (!seen.has(name)) dir.symlinks.delete(name)
    for (const name of [...dir.dirs.keys()]) if (!seen.has(name)) dropDir(dir, name)
  }

  /**
   * Brings one entry of `dir` up to date from the disk: 'absent' when it is
   * not there, or not part of the tree (left out, ignored, a socket, kappa's
   * own temporary). A file counts against the workspace's limits in
   * `budget` before it is hashed.
   */
  private async readEntry (ws: Workspace, dir: DirState, abs: string, name: string, budget: { files: number, bytes: number }): Promise<'file' | 'symlink' | 'dir' | 'absent'> {
    // .git, and the temporaries kappa itself writes while it puts a job's results in place
    if (name === '.git' || TEMPORARY_NAME.test(name)) return 'absent'
    const rel = dir.rel === '' ? name : `${dir.rel}/${name}`
    let st: Stats
    try {
      // synchronous (SMALL_FILE_BYTES says why), with a turn of the event loop every so many
      if (this.turns.due()) await setImmediate()
      st = lstatSync(join(abs, name))
    } catch (err) {
      // gone (between readdir and lstat, or since inotify named it)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'
      throw unreadable(ws, rel, err)
    }
    if (ws.excluded.has(rel) || ws.ignore.ignores(st.isDirectory() ? `${rel}/` : rel)) return 'absent'
    if (st.isFile()) {
      dir.symlinks.delete(name)
      dropDir(dir, name)
      budget.files++
      budget.bytes += st.size
      this.overLimit(ws, budget)
      const known = dir.files.get(name)
      if (known != null && sameStat(known, st) && !known.racy) {
        known.mode = st.mode & 0o777
        return 'file'
      }
      let state: FileState
      try {
        state = await this.hash(ws, rel, st)
      } catch (err) {
        // gone between lstat and open (a build renames its temporaries all the time): looked at again next time
        if (!(err instanceof Vanished)) throw err
        dir.files.delete(name)
        markDirty(dir)
        return 'absent'
      }
      dir.files.set(name, state)
      ws.hashedAt.set(state.digest.toString('hex'), rel)
      return 'file'
    }
    if (st.isSymbolicLink()) {
      dir.files.delete(name)
      dropDir(dir, name)
      dir.symlinks.set(name, await readlink(join(abs, name)).catch((err) => { throw unreadable(ws, rel, err) }))
      return 'symlink'
    }
    if (st.isDirectory()) {
      dir.files.delete(name)
      dir.symlinks.delete(name)
      let sub = dir.dirs.get(name)
      // removed and made again (rm -rf build && mkdir build): what was known of it, and its watcher,
      // belong to the old directory, whose watcher no longer sees anything
      if (sub != null && sub.ino !== st.ino) {
        dropDir(dir, name)
        sub = undefined
      }
      if (sub == null) {
        sub = new DirState(rel, dir)
        sub.ino = st.ino
        dir.dirs.set(name, sub)
      }
      sub.mode = st.mode & 0o777
      return 'dir'
    }
    log('workspace %s: %s is a socket, fifo or device: skipped', ws.root, rel)
    return 'absent'
  }

  /**
   * Hashes what is read, and makes sure the file did not change while it was
   * read (its stat after the read equals the one before): a small file costs
   * an open, one read, an fstat and a close.
   */
  private async hash (ws: Workspace, rel: string, before: Stats): Promise<FileState> {
    const path = join(ws.root, rel)
    let expected: Stats = before
    // the last small read, should the file never hold still
    let last: { data: Buffer, stat: Stats } | undefined
    for (let attempt = 0; attempt < 3; attempt++) {
      if (expected.size <= SMALL_FILE_BYTES) {
        // open, read, fstat and close with synchronous calls (SMALL_FILE_BYTES says why)
        let read
        try {
          read = readSmall(path, expected.size, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Vanished(path)
          throw unreadable(ws, rel, err)
        }
        const after = read.stat
        if (unchangedWhileRead(read.data.length, expected, after)) {
          const digest = createHash('sha256').update(read.data).digest()
          this.recent.put(digest.toString('hex'), read.data)
          return this.hashed(after, digest)
        }
        last = read
        expected = after
        continue
      }
      let handle
      try {
        handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Vanished(path)
        throw unreadable(ws, rel, err)
      }
      try {
        const hash = createHash('sha256')
        let size = 0
        if (expected.size <= READ_WHOLE_BYTES) {
          // one byte more than expected: a file that grew is found out
          const buffer = Buffer.allocUnsafe(expected.size + 1)
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
          hash.update(buffer.subarray(0, bytesRead))
          size = bytesRead
        } else {
          for await (const chunk of handle.createReadStream({ autoClose: false, start: 0, highWaterMark: READ_WHOLE_BYTES })) {
            hash.update(chunk as Buffer)
            size += (chunk as Buffer).length
          }
        }
        const after = await handle.stat()
        if (unchangedWhileRead(size, expected, after)) {
          return this.hashed(after, hash.digest())
        }
        // it changed under us: read it again as it is now
        expected = after
      } catch (err) {
        throw unreadable(ws, rel, err)
      } finally {
        await handle.close()
      }
    }
    if (last != null) {
      // a small file that another process is writing right now (make -j: a compile's object): the job
      // sees it as one of these reads found it, as a program started here then could have, and the
      // next snapshot reads it again
      const digest = createHash('sha256').update(last.data).digest()
      this.recent.put(digest.toString('hex'), last.data)
      return { ...this.hashed(last.stat, digest), size: last.data.length, racy: true }
    }
    throw new UserError(`${join(ws.root, rel)} kept changing while it was read: try again once it is written`)
  }

  private hashed (after: Stats, digest: Buffer): FileState {
    const hashedAt = this.now()
    return { size: after.size, mtimeMs: after.mtimeMs, ctimeMs: after.ctimeMs, ino: after.ino, mode: after.mode & 0o777, digest, racy: Math.abs(hashedAt - after.mtimeMs) < RACY_MS }
  }

  /** The tree as it is now, frozen: what a job sees for its whole life. */
  private freeze (ws: Workspace, rootMode: number): Snapshot {
    const directories = new Map<Hex, Uint8Array>()
    const collect = (dir: DirState): void => {
      const enc = dir.encoded as NonNullable<DirState['encoded']>
      directories.set(enc.digest, enc.message)
      for (const sub of dir.dirs.values()) collect(sub)
    }
    collect(ws.top)
    const top = ws.top.encoded as NonNullable<DirState['encoded']>
    const decoded = this.decoded
    const directory = (digest: Hex): Directory | undefined => {
      let d = decoded.get(digest)
      if (d == null) {
        const bytes = directories.get(digest)
        if (bytes == null) return undefined
        d = decodeDirectory(bytes)
        decoded.set(digest, d)
      }
      return d
    }
    let blobs: Map<Hex, { path: string, size: number }> | undefined
    const ignore = ws.ignore
    const excluded = [...ws.excluded]
    return {
      root: ws.root,
      digest: top.digest,
      rootMode,
      files: top.files,
      bytes: top.bytes,
      directories,
      takenAt: this.now(),
      directory,
      lookup: (rel) => lookup({ directory }, top.digest, rootMode, rel),
      content: (digest) => this.recent.get(digest),
      blob: (digest) => {
        const hashedAt = ws.hashedAt.get(digest)
        const there = hashedAt != null ? lookup({ directory }, top.digest, rootMode, hashedAt) : undefined
        if (there?.kind === 'file' && there.digest === digest) return { path: hashedAt as string, size: there.size }
        if (blobs == null) {
          const found = new Map<Hex, { path: string, size: number }>()
          const walk = (d: Hex, prefix: string): void => {
            for (const [name, e] of entriesOf(directory(d) as Directory)) {
              const rel = prefix === '' ? name : `${prefix}/${name}`
              if (e.kind === 'file' && !found.has(e.digest)) found.set(e.digest, { path: rel, size: e.size })
              else if (e.kind === 'dir') walk(e.digest, rel)
            }
          }
          walk(top.digest, '')
          blobs = found
        }
        return blobs.get(digest)
      },
      ignored: (rel, isDir) => rel.split('/').includes('.git') || excluded.some(e => rel === e || rel.startsWith(`${e}/`)) || ignore.ignores(isDir ? `${rel}/` : rel)
    }
  }
}

function sameSet (a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every(x => b.has(x))
}

function markAllDirty (dir: DirState): void {
  markDirty(dir)
  for (const d of dir.dirs.values()) markAllDirty(d)
}

/** The whole directory must be read again. */
function markDirty (dir: DirState): void {
  dir.dirty = true
  dir.changed = undefined
}

/** Past this many named entries a directory is read whole (one readdir beats as many stats). */
const MAX_NAMED_CHANGES = 256

/** inotify named `name` in `dir`: read that entry again (or the whole directory, if it is due anyway). */
function noteChanged (dir: DirState, name: string): void {
  if (dir.dirty && dir.changed == null) return
  dir.dirty = true
  dir.changed ??= new Set()
  dir.changed.add(name)
  if (dir.changed.size > MAX_NAMED_CHANGES) dir.changed = undefined
}

/** `name` is no longer part of `dir` (whatever it was). */
function forget (dir: DirState, name: string): void {
  dir.files.delete(name)
  dir.symlinks.delete(name)
  dropDir(dir, name)
}

function unwatch (dir: DirState): void {
  dir.watcher?.close()
  dir.watcher = undefined
  for (const d of dir.dirs.values()) unwatch(d)
}

function dropDir (dir: DirState, name: string): void {
  const sub = dir.dirs.get(name)
  if (sub == null) return
  unwatch(sub)
  dir.dirs.delete(name)
}

/** A file that was listed but is gone by the time it is opened: skipped, its directory looked at again next time. */
class Vanished extends Error {}

function unreadable (ws: Workspace, rel: string, err: unknown): Error {
  if (err instanceof UserError) return err
  const code = (err as NodeJS.ErrnoException).code
  const path = join(ws.root, rel)
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`cannot read ${path} (permission denied): a job would miss it; list it in ${join(ws.root, IGNORE_FILE)} or make it readable`)
  return new UserError(`cannot read ${path}: ${(err as Error).message}`)
}
