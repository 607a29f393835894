/**
 * The toolchain identity as a daemon uses it (docs/toolchain.md): on the
 * origin, one manifest per driver (path and name it is called by), kept in
 * memory and revalidated per job with a few hundred `stat` calls (the
 * executable, its programs and libraries, every include directory walked,
 * the loader's cache) instead of the whole walk; on a target, per manifest,
 * which of its files this machine holds with other content, revalidated the
 * same way. The cold work (hashing, asking the driver) runs in a worker
 * thread: the daemon keeps answering its peers meanwhile.
 */
import { createHash } from 'node:crypto'
import { statSync, watch, type FSWatcher, type Stats } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, isAbsolute, join, normalize } from 'node:path'
import { Worker } from 'node:worker_threads'
import { Toolchain, type ToolchainFile as WireFile } from '../wire/toolchain.js'
import { hashFile, ToolchainError, type ToolchainIdentity } from './toolchain.js'

/** A manifest is refused past these (a peer's message is untrusted). */
export const MAX_TOOLCHAIN_FILES = 50_000
export const MAX_TOOLCHAIN_MANIFEST_BYTES = 6 * 1024 * 1024
/**
 * A result checked this recently is used without a new check: the jobs of
 * one `make -j` burst share one round of stat calls.
 */
const FRESH_MS = 250
/** Identities kept per daemon (one per driver and name; each ~1 MB for gcc). */
const MAX_CACHED = 32
/** Consulted by the loader: a new ld.so.cache may resolve another library. */
const LOADER_CACHE = '/etc/ld.so.cache'

export interface ToolchainManifest {
  /** hex sha256 of `bytes`: how probes and jobs name it */
  digest: string
  /** the encoded Toolchain message (protocols/toolchain.proto) */
  bytes: Uint8Array
  files: ManifestFile[]
}

export interface ManifestFile { path: string, sha256: string, size: number, mode: number, header: boolean }

/** Work sent to the worker thread. */
export type WorkerRequest =
  | { id: number, type: 'identify', path: string, name: string, again?: boolean }
  | { id: number, type: 'compare', digest: string, bytes: Uint8Array, again?: boolean }
  | { id: number, type: 'check', checks: Check[] }
export type WorkerReply =
  | { id: number, type: 'identity', digest: string, bytes: Uint8Array, checks: Check[] }
  | { id: number, type: 'compared', differing: number[], checks: Check[] }
  | { id: number, type: 'checked', valid: boolean }
  | { id: number, type: 'error', message: string }

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/** A path and what `stat` said of it (or '-' when it did not exist): unchanged means unchanged. */
export type Check = [string, string]

function statKey (st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`
}

function check (path: string): Check {
  try { return [path, statKey(statSync(path))] } catch { return [path, '-'] }
}

/** Do all these paths still stat as they did? */
export function stillValid (checks: readonly Check[]): boolean {
  for (const [path, key] of checks) if (check(path)[1] !== key) return false
  return true
}

/** What says an identity still holds: the executable, its programs and libraries, every directory walked, the loader's cache. */
export function identityChecks (identity: ToolchainIdentity, path: string): Check[] {
  const checks: Check[] = [check(path), check(LOADER_CACHE)]
  for (const f of identity.files) if (f.role !== 'header') checks.push(check(f.path))
  for (const d of identity.dirs) checks.push(check(d))
  return checks
}

/** The manifest of an identity: files sorted by path, encoded, named by its sha256. */
export function manifestOf (identity: ToolchainIdentity): ToolchainManifest {
  const files = identity.files.map(f => ({ path: f.path, sha256: f.sha256, size: f.size, mode: f.mode & 0o777, header: f.role === 'header' }))
  const bytes = Toolchain.encode({ files: files.map(f => ({ path: f.path, digest: Buffer.from(f.sha256, 'hex'), size: BigInt(f.size), mode: f.mode, header: f.header })) })
  return { digest: createHash('sha256').update(bytes).digest('hex'), bytes, files }
}

/**
 * A manifest the worker encoded: its file list is decoded only when asked
 * for (a target asking for some of its files), not on the daemon's thread
 * for every identity.
 */
export function lazyManifest (digest: string, bytes: Uint8Array): ToolchainManifest {
  let files: ManifestFile[] | undefined
  return { digest, bytes, get files () { return (files ??= decodeManifest(bytes, digest).files) } }
}

function safePath (path: string): boolean {
  return path.length <= 4096 && isAbsolute(path) && !path.includes('\0') && normalize(path) === path && path !== '/' && !path.endsWith('/')
}

/** A manifest a peer sent: its digest checked, every entry checked, or ToolchainError. */
export function decodeManifest (bytes: Uint8Array, digest: string): ToolchainManifest {
  if (bytes.byteLength > MAX_TOOLCHAIN_MANIFEST_BYTES) throw new ToolchainError('toolchain manifest over the size limit')
  if (createHash('sha256').update(bytes).digest('hex') !== digest) throw new ToolchainError('toolchain manifest does not match its digest')
  let decoded: Toolchain
  try {
    decoded = Toolchain.decode(bytes, { limits: { files: MAX_TOOLCHAIN_FILES } })
  } catch (err) {
    throw new ToolchainError(`malformed toolchain manifest (${err instanceof Error ? err.message : String(err)})`)
  }
  const files: ManifestFile[] = []
  let last = ''
  for (const f of decoded.files as WireFile[]) {
    if (!safePath(f.path) || f.path <= last) throw new ToolchainError('toolchain manifest: a path that is not absolute, normal, sorted and unique')
    if (f.digest.length !== 32 || f.mode > 0o777 || f.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ToolchainError(`toolchain manifest: malformed entry for ${f.path}`)
    last = f.path
    files.push({ path: f.path, sha256: Buffer.from(f.digest).toString('hex'), size: Number(f.size), mode: f.mode, header: f.header })
  }
  return { digest, bytes, files }
}

/**
 * Which manifest files this machine holds with other content or mode (or
 * not at all, or not as a regular file), by index; and the checks that say
 * when to ask again: the parent directory of every file, and every file that
 * is not a header (a header is replaced by a rename, which its directory's
 * stat shows).
 */
export function compareOwnFiles (files: readonly ManifestFile[]): { differing: number[], checks: Check[] } {
  const differing: number[] = []
  const checks: Check[] = [check(LOADER_CACHE)]
  const dirs = new Set<string>()
  files.forEach((f, i) => {
    const dir = dirname(f.path)
    if (!dirs.has(dir)) { dirs.add(dir); checks.push(check(dir)) }
    if (!f.header) checks.push(check(f.path))
    let st: Stats
    try { st = statSync(f.path) } catch { differing.push(i); return }
    if (!st.isFile() || st.size !== f.size || (st.mode & 0o777) !== f.mode) { differing.push(i); return }
    try {
      if (hashFile(f.path, st).sha256 !== f.sha256) differing.push(i)
    } catch {
      differing.push(i)
    }
  })
  return { differing, checks }
}

/**
 * Where this user's daemons keep the hashes of system files between runs
 * (shared by the daemons of one user on one machine): root's in
 * /var/cache/kappa-node, a user's in ~/.cache/kappa-node;
 * `KAPPA_TOOLCHAIN_CACHE` names another file ('' keeps them in memory only).
 */
export function defaultCacheFile (): string | undefined {
  const env = process.env.KAPPA_TOOLCHAIN_CACHE
  if (env != null) return env === '' ? undefined : env
  if (process.getuid?.() === 0) return '/var/cache/kappa-node/toolchain-hashes.json'
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kappa-node', 'toolchain-hashes.json')
}

/** What revalidation costs: for `status` and the measurement in docs/toolchain.md. */
export interface ToolchainCacheStats {
  /** identities computed (cold or after a change) */
  computed: number
  /** identities served after a stat revalidation */
  revalidated: number
  /** comparisons of a manifest with this machine's files */
  compared: number
  /** the last revalidation: ms and stat calls */
  lastCheckMs: number
  lastChecks: number
}

/** A kept result and what says it still holds. */
interface Checked {
  checks: Check[]
  checkedAt: number
  /** the checks of files (stat'ed per job); directories are watched instead */
  files?: Check[]
  /** not checked in full since its watches were set */
  stale?: boolean
  /** a watched directory saw a change: computed again, not merely checked (an in-place edit keeps every stat but the file's) */
  changed?: boolean
  unwatch?: () => void
}
interface OriginEntry extends Checked { manifest: ToolchainManifest }
interface TargetEntry extends Checked { differing: Set<string> }

/** Past this many directories a result is checked by stat only (inotify watches are a per-user budget). */
const MAX_WATCHED = 4000

function isDirectoryKey (key: string): boolean {
  const mode = Number(key.split(':').pop())
  return Number.isInteger(mode) && (mode & 0o170000) === 0o040000
}

/**
 * inotify watches on directories, shared by the results that depend on
 * them: any entry created, removed, renamed or written in one marks those
 * results stale (a header edited in place too, which a stat of its
 * directory would not show).
 */
class DirectoryWatches {
  private readonly watched = new Map<string, { watcher: FSWatcher, listeners: Set<() => void> }>()

  /** Calls `onChange` on any change in `dirs`; false when a watch could not be set (then the caller checks by stat). */
  add (dirs: string[], onChange: () => void): { ok: boolean, remove: () => void } {
    const mine: string[] = []
    const remove = (): void => {
      for (const d of mine) {
        const w = this.watched.get(d)
        if (w == null) continue
        w.listeners.delete(onChange)
        if (w.listeners.size === 0) { w.watcher.close(); this.watched.delete(d) }
      }
    }
    if (this.watched.size + dirs.length > MAX_WATCHED * 2) return { ok: false, remove }
    for (const d of dirs) {
      let w = this.watched.get(d)
      if (w == null) {
        try {
          const listeners = new Set<() => void>()
          const watcher = watch(d, { persistent: false }, () => { for (const l of listeners) l() })
          watcher.on('error', () => { for (const l of listeners) l() })
          w = { watcher, listeners }
          this.watched.set(d, w)
        } catch {
          remove()
          return { ok: false, remove }
        }
      }
      w.listeners.add(onChange)
      mine.push(d)
    }
    return { ok: true, remove }
  }

  close (): void {
    for (const w of this.watched.values()) w.watcher.close()
    this.watched.clear()
  }
}

/**
 * Per daemon: identities of the drivers jobs used (origin) and comparisons
 * of manifests with this machine's files (target), both revalidated by
 * stat. One worker thread does the cold work, started at first use.
 */
export class ToolchainCache {
  private readonly identities = new Map<string, OriginEntry>()
  private readonly comparisons = new Map<string, TargetEntry>()
  private readonly inflight = new Map<string, Promise<unknown>>()
  private worker?: Worker
  private seq = 0
  private readonly waiting = new Map<number, { resolve: (r: WorkerReply) => void, reject: (e: Error) => void }>()
  private readonly watches = new DirectoryWatches()
  readonly stats: ToolchainCacheStats = { computed: 0, revalidated: 0, compared: 0, lastCheckMs: 0, lastChecks: 0 }

  private readonly cacheFile: string | undefined
  private readonly freshMs: number

  /**
   * `cacheFile`: where the worker keeps its hashes between runs (default
   * `defaultCacheFile()`; null: memory only); `freshMs`: a result checked
   * this recently is used without a new check (default 250 ms)
   */
  constructor (opts: { cacheFile?: string | null, freshMs?: number } = {}) {
    this.cacheFile = opts.cacheFile === null ? undefined : opts.cacheFile ?? defaultCacheFile()
    this.freshMs = opts.freshMs ?? FRESH_MS
  }

  /** The manifest of the executable at `path` (absolute), called as `name`; ToolchainError when it cannot be known safely. */
  async manifest (path: string, name = basename(path)): Promise<ToolchainManifest> {
    const key = `${path}\0${basename(name)}`
    const hit = this.identities.get(key)
    if (hit != null && await this.revalidate(`id:${key}`, hit)) {
      this.stats.revalidated++
      return hit.manifest
    }
    return await this.once(`id:${key}`, async () => {
      const reply = await this.ask({ type: 'identify', path, name: basename(name), again: hit?.changed })
      if (reply.type !== 'identity') throw new ToolchainError('toolchain worker: unexpected reply')
      const manifest = lazyManifest(reply.digest, reply.bytes)
      this.stats.computed++
      remember(this.identities, key, this.watched({ manifest, checks: reply.checks, checkedAt: performance.now() }))
      return manifest
    })
  }

  /** The manifest last computed for this driver, if nothing said it changed since (for the probe: no waiting, no check). */
  known (path: string, name = basename(path)): ToolchainManifest | undefined {
    const hit = this.identities.get(`${path}\0${basename(name)}`)
    return hit != null && hit.changed !== true ? hit.manifest : undefined
  }

  /** The paths of `manifest` whose file here differs from the origin's (content, mode, or absent). */
  async differing (manifest: ToolchainManifest): Promise<Set<string>> {
    const hit = this.comparisons.get(manifest.digest)
    if (hit != null && await this.revalidate(`cmp:${manifest.digest}`, hit)) return hit.differing
    return await this.once(`cmp:${manifest.digest}`, async () => {
      // the encoded manifest: far cheaper to pass to the worker than 8 000 objects
      const reply = await this.ask({ type: 'compare', digest: manifest.digest, bytes: manifest.bytes, again: hit?.changed })
      if (reply.type !== 'compared') throw new ToolchainError('toolchain worker: unexpected reply')
      const differing = new Set(reply.differing.map(i => manifest.files[i].path))
      this.stats.compared++
      remember(this.comparisons, manifest.digest, this.watched({ differing, checks: reply.checks, checkedAt: performance.now() }))
      return differing
    })
  }

  close (): void {
    this.watches.close()
    void this.worker?.terminate()
    this.worker = undefined
    for (const w of this.waiting.values()) w.reject(new ToolchainError('toolchain worker stopped'))
    this.waiting.clear()
  }

  /**
   * Its directories watched: a job then stats only the files (~30 for gcc);
   * the first check after the watches are set is a full one (a change
   * between the result's checks and the watches is not missed).
   */
  private watched<T extends Checked> (entry: T): T {
    const dirs = entry.checks.filter(([, key]) => isDirectoryKey(key)).map(([path]) => path)
    if (dirs.length > MAX_WATCHED) return entry
    const w = this.watches.add(dirs, () => { entry.changed = true })
    entry.unwatch = w.remove
    if (!w.ok) { w.remove(); return entry }
    entry.files = entry.checks.filter(([, key]) => !isDirectoryKey(key))
    entry.stale = true
    return entry
  }

  /** Do the checks of `entry` still hold? Watched: the files' stats, here; else all of them in the worker (concurrent jobs share one round). */
  private async revalidate (key: string, entry: Checked): Promise<boolean> {
    if (entry.changed === true) return false
    if (entry.files != null && entry.stale !== true) {
      const began = performance.now()
      const ok = stillValid(entry.files)
      this.stats.lastCheckMs = Math.round((performance.now() - began) * 100) / 100
      this.stats.lastChecks = entry.files.length
      return ok
    }
    if (entry.files == null && performance.now() - entry.checkedAt < this.freshMs) return true
    return await this.once(`check:${key}`, async () => {
      // events from here on count for the next job
      entry.stale = false
      const began = performance.now()
      const reply = await this.ask({ type: 'check', checks: entry.checks })
      const ok = reply.type === 'checked' && reply.valid
      this.stats.lastCheckMs = Math.round((performance.now() - began) * 100) / 100
      this.stats.lastChecks = entry.checks.length
      if (ok) entry.checkedAt = performance.now()
      else entry.stale = true
      return ok
    })
  }

  /** Concurrent jobs of one driver (make -j) wait for one computation. */
  private async once<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key)
    if (running != null) return await (running as Promise<T>)
    const p = fn().finally(() => { this.inflight.delete(key) })
    this.inflight.set(key, p)
    return await p
  }

  private async ask (req: WithoutId<WorkerRequest>): Promise<WorkerReply> {
    if (this.worker == null) {
      // '../host/': right from this file and from the daemon's bundle in dist/src/cli/
      const worker = new Worker(new URL('../host/toolchain-worker.js', import.meta.url), { execArgv: [], workerData: { cacheFile: this.cacheFile } })
      worker.unref()
      worker.on('message', (reply: WorkerReply) => {
        const w = this.waiting.get(reply.id)
        if (w == null) return
        this.waiting.delete(reply.id)
        if (reply.type === 'error') w.reject(new ToolchainError(reply.message))
        else w.resolve(reply)
      })
      const fail = (err: Error): void => {
        if (this.worker === worker) this.worker = undefined
        for (const w of this.waiting.values()) w.reject(new ToolchainError(`toolchain worker: ${err.message}`))
        this.waiting.clear()
      }
      worker.on('error', fail)
      worker.on('exit', (code) => { fail(new Error(`exited ${code}`)) })
      this.worker = worker
    }
    const id = ++this.seq
    return await new Promise<WorkerReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.worker?.postMessage({ ...req, id })
    })
  }
}

function remember<V extends Checked> (map: Map<string, V>, key: string, value: V): void {
  map.get(key)?.unwatch?.()
  map.delete(key)
  map.set(key, value)
  while (map.size > MAX_CACHED) {
    const oldest = map.keys().next().value as string
    map.get(oldest)?.unwatch?.()
    map.delete(oldest)
  }
}
