/**
 * Toolchain layers on a target (docs/toolchain.md): the origin's files that
 * this node lacks or holds with other content, shown at the origin's paths
 * inside the sandbox. bubblewrap cannot create a file inside a read-only
 * bind of /usr, so the daemon builds a layer directory (copies from the
 * content-addressed store) and mounts, per system directory it touches, a
 * read-only overlay `lowerdir=<layer>/usr:/usr`; the sandbox binds that
 * overlay at /usr instead of this node's /usr. One layer per toolchain
 * manifest, built once, kept mounted while jobs use it and for the next
 * ones (the least recently used unused ones go past a few).
 */
import { constants as fsConstants, existsSync, lstatSync, realpathSync } from 'node:fs'
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { logger } from '@libp2p/logger'
import { mountReadOnlyOverlay, sweepMounts, unmount } from './view.js'
import type { ContentStore } from './store.js'
import type { Hex } from './tree.js'
import { errorMessage } from '../errors.js'

const log = logger('kappa:toolchain-layer')

/** System directories a layer may cover (not /etc: the sandbox makes its own). */
export const LAYER_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt']
/** Layers kept mounted with no job using them. */
const KEEP_IDLE = 8

export interface LayerFile { path: string, sha256: Hex, mode: number }

export interface ToolchainLayer {
  digest: Hex
  /** system directory → what the sandbox shows there instead (the overlay) */
  systemDirs: Record<string, string>
  /** origin paths this layer shows */
  covers: Set<string>
}

/**
 * Where the origin's file at `path` goes on this node: below the real
 * (non-symlink) system directory that holds it once this node's own
 * symlinks are followed (`/lib/x/libc.so.6` → `/usr/lib/x/libc.so.6` on a
 * merged-/usr system), or undefined when no layer can show it (outside the
 * system directories, or a directory stands there).
 */
export function layerPlacement (path: string): { top: string, placed: string } | undefined {
  let existing = dirname(path)
  while (!existsSync(existing)) existing = dirname(existing)
  let placed: string
  try {
    placed = join(realpathSync(existing), path.slice(existing.length))
  } catch {
    return undefined
  }
  const top = LAYER_DIRS.find(d => placed.startsWith(`${d}/`))
  if (top == null) return undefined
  try {
    if (!lstatSync(top).isDirectory()) return undefined
    if (lstatSync(placed).isDirectory()) return undefined
  } catch (err) { log('%s: not there yet, a new file in the layer (%s)', placed, errorMessage(err)) }
  return { top, placed }
}

interface Entry { layer: ToolchainLayer, users: number, lastUsed: number, ready: Promise<void>, mounts: string[] }

export class ToolchainLayers {
  private readonly layers = new Map<Hex, Entry>()

  constructor (private readonly dir: string, private readonly store: ContentStore) {}

  /** Leftovers of a daemon that died: unmounted and removed. */
  async open (): Promise<void> {
    const swept = await sweepMounts(this.dir)
    if (swept > 0) log('unmounted %d toolchain overlays a previous daemon left', swept)
    await rm(this.dir, { recursive: true, force: true })
    await mkdir(this.dir, { recursive: true, mode: 0o711 })
  }

  /**
   * The layer of toolchain `digest` showing `files` (each in the store),
   * built and mounted at first use; `release` it after the job.
   */
  async acquire (digest: Hex, files: LayerFile[]): Promise<ToolchainLayer> {
    let entry = this.layers.get(digest)
    if (entry == null) {
      const base = join(this.dir, digest.slice(0, 32))
      const layer: ToolchainLayer = { digest, systemDirs: {}, covers: new Set() }
      const e: Entry = { layer, users: 0, lastUsed: Date.now(), mounts: [], ready: Promise.resolve() }
      e.ready = this.build(base, e, files)
      entry = e
      this.layers.set(digest, entry)
    }
    entry.users++
    entry.lastUsed = Date.now()
    try {
      await entry.ready
    } catch (err) {
      entry.users--
      if (this.layers.get(digest) === entry) this.layers.delete(digest)
      await this.drop(entry)
      throw err
    }
    return entry.layer
  }

  release (layer: ToolchainLayer): void {
    const entry = this.layers.get(layer.digest)
    if (entry == null) return
    entry.users--
    entry.lastUsed = Date.now()
    void this.trim()
  }

  /** Unmounts every layer (daemon stopping). */
  async close (): Promise<void> {
    const all = [...this.layers.values()]
    this.layers.clear()
    for (const e of all) await this.drop(e)
  }

  private async build (base: string, entry: Entry, files: LayerFile[]): Promise<void> {
    const root = join(base, 'layer')
    await rm(base, { recursive: true, force: true })
    const tops = new Set<string>()
    for (const f of files) {
      const where = layerPlacement(f.path)
      if (where == null) continue
      const dest = join(root, where.placed)
      await mkdir(dirname(dest), { recursive: true, mode: 0o755 })
      await copyFile(this.store.blobPath(f.sha256), dest, fsConstants.COPYFILE_FICLONE)
      // never a setuid bit from a peer
      await chmod(dest, f.mode & 0o777)
      tops.add(where.top)
      entry.layer.covers.add(f.path)
    }
    for (const top of tops) {
      const at = join(base, 'mnt', top.slice(1))
      await mountReadOnlyOverlay([join(root, top.slice(1)), top], at)
      entry.mounts.push(at)
      entry.layer.systemDirs[top] = at
    }
    log('toolchain %s: %d files over %s', entry.layer.digest.slice(0, 12), entry.layer.covers.size, [...tops].join(' '))
  }

  private async drop (entry: Entry): Promise<void> {
    for (const at of entry.mounts) await unmount(at).catch((err) => { log('unmount %s: %s', at, err.message) })
    entry.mounts = []
    await rm(join(this.dir, entry.layer.digest.slice(0, 32)), { recursive: true, force: true }).catch((err) => { log('remove layer: %s', err.message) })
  }

  private async trim (): Promise<void> {
    const idle = [...this.layers.values()].filter(e => e.users === 0).sort((x, y) => x.lastUsed - y.lastUsed)
    while (idle.length > KEEP_IDLE) {
      const e = idle.shift() as Entry
      this.layers.delete(e.layer.digest)
      await this.drop(e)
    }
  }
}
