import { createHash } from 'node:crypto'
import { createReadStream, type Stats } from 'node:fs'
import { lstat, readdir, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { entriesOf, type Directory, type Hex, type TreeEntry } from './tree.js'
import type { JobView } from './view.js'

const log = logger('kappa:changes')

/** One change of a job, relative to the workspace root ('/'-separated). */
export type WorkspaceChange =
  | { kind: 'delete', path: string }
  | { kind: 'directory', path: string, mode: number }
  | { kind: 'file', path: string, digest: Hex, size: number, mode: number, source: string }
  | { kind: 'symlink', path: string, target: string }
  | { kind: 'mode', path: string, mode: number }

/** A job's change set with its totals: what the origin must apply. */
export interface ChangeSet { changes: WorkspaceChange[], files: number, bytes: number }

export async function hashFile (path: string): Promise<{ digest: Hex, size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { digest: hash.digest('hex'), size }
}

function isWhiteout (st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0
}

async function whiteoutAt (path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined)
  return st != null && isWhiteout(st)
}

/** A directory's names; none where it is gone. */
async function listing (dir: string): Promise<Set<string>> {
  return new Set(await readdir(dir).catch(() => []))
}

/** Where the job's tree's directories come from (the target's store). */
export interface AsyncDirectorySource {
  loadDirectory: (digest: Hex) => Promise<Directory | undefined>
}

interface Walk {
  source: AsyncDirectorySource
  /** the directory a job's entries are listed from (the merged view, or the copy) */
  view: string
  /** where the candidates are listed from and their content is read (upper, or the copy) */
  content: string
  /**
   * overlay: the lower layer (the mirror, as it is now), which tells the job's deletions from the
   * mirror's later updates; null where the mirror was rebuilt under the job (only whiteouts tell)
   */
  lower?: string | null
  /** could this file differ from the tree's entry (without reading it)? */
  maybeChanged: (st: Stats, old: Extract<TreeEntry, { kind: 'file' }>) => boolean
  out: WorkspaceChange[]
}

/**
 * The job's change set against the tree it started from, in the order the
 * origin applies it: deletions, directories (parents first), files,
 * symlinks, modes. Files are compared by content and mode, so a file copied
 * up unchanged (opened for writing, touched) is not reported. In an overlay
 * the mirror under a running job moves on (later jobs of the same origin
 * update it, as a local make's other recipes change the tree): an entry
 * missing from the merged view is the job's deletion only where the upper
 * directory has its whiteout, or the mirror still has it (the job replaced
 * the directory); one the mirror lost meanwhile the origin removed itself.
 */
export async function computeChanges (view: JobView, source: AsyncDirectorySource, root: Hex, rootMode: number): Promise<ChangeSet> {
  const out: WorkspaceChange[] = []
  const sameLower = view.kind === 'overlay' && (await stat(view.lower).catch(() => undefined))?.ino === view.lowerIno
  const walk: Walk = view.kind === 'overlay'
    ? { source, view: view.merged, content: view.upper, lower: sameLower ? view.lower : null, maybeChanged: () => true, out }
    : {
        source,
        view: view.merged,
        content: view.merged,
        // cp -a keeps size and mtime; a job's write changes one of them, or at least the ctime
        maybeChanged: (st, old) => st.size !== old.size || Math.floor(st.mtimeMs) !== old.mtimeMs || st.ctimeMs >= view.copiedAtMs - 20,
        out
      }
  // (the root's own mode is the origin's business: a job cannot change it there)
  void rootMode
  await compareDir(walk, '', await entriesFor(source, root))
  const rank = { delete: 0, directory: 1, file: 2, symlink: 3, mode: 4 }
  // deletions deepest first; the rest parents first
  out.sort((a, b) => rank[a.kind] - rank[b.kind] || (a.kind === 'delete' ? depth(b.path) - depth(a.path) : depth(a.path) - depth(b.path)) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  let files = 0
  let bytes = 0
  const counted = new Set<Hex>()
  for (const c of out) {
    files++
    if (c.kind === 'file' && !counted.has(c.digest)) { counted.add(c.digest); bytes += c.size }
  }
  return { changes: out, files, bytes }
}

function depth (path: string): number {
  return path === '' ? 0 : path.split('/').length
}

async function entriesFor (source: AsyncDirectorySource, digest: Hex): Promise<Map<string, TreeEntry>> {
  const dir = await source.loadDirectory(digest)
  if (dir == null) throw new Error(`directory ${digest.slice(0, 12)} of the job's tree is not at hand`)
  return entriesOf(dir)
}

/** `tree`: the directory's entries in the job's tree, or undefined for a directory the job created. */
async function compareDir (walk: Walk, rel: string, tree: Map<string, TreeEntry> | undefined): Promise<void> {
  const at = (name: string): string => rel === '' ? name : `${rel}/${name}`
  if (tree != null) {
    const present = new Set(await readdir(join(walk.view, rel)))
    const missing = [...tree.keys()].filter(name => !present.has(name))
    if (missing.length > 0) {
      const lower = walk.lower == null ? walk.lower : await listing(join(walk.lower, rel))
      for (const name of missing) {
        const deleted = lower === undefined || lower?.has(name) === true || await whiteoutAt(join(walk.content, rel, name))
        if (deleted) walk.out.push({ kind: 'delete', path: at(name) })
        else log('%s: removed from the mirror while the job ran (the origin removed it), not by the job', at(name))
      }
    }
  }
  for (const name of await readdir(join(walk.content, rel))) {
    const path = at(name)
    const abs = join(walk.content, path)
    const st = await lstat(abs)
    if (isWhiteout(st)) continue
    const old = tree?.get(name)
    const replaced = (kind: TreeEntry['kind']): void => {
      if (old != null && old.kind !== kind) walk.out.push({ kind: 'delete', path })
    }
    if (st.isDirectory()) {
      replaced('dir')
      if (old?.kind === 'dir') {
        if ((st.mode & 0o777) !== old.mode) walk.out.push({ kind: 'mode', path, mode: st.mode & 0o777 })
        await compareDir(walk, path, await entriesFor(walk.source, old.digest))
      } else {
        walk.out.push({ kind: 'directory', path, mode: st.mode & 0o777 })
        await compareDir(walk, path, undefined)
      }
    } else if (st.isFile()) {
      replaced('file')
      if (old?.kind === 'file' && !walk.maybeChanged(st, old)) {
        if ((st.mode & 0o777) !== old.mode) walk.out.push({ kind: 'mode', path, mode: st.mode & 0o777 })
        continue
      }
      const { digest, size } = await hashFile(abs)
      if (old?.kind === 'file' && old.digest === digest) {
        if ((st.mode & 0o777) !== old.mode) walk.out.push({ kind: 'mode', path, mode: st.mode & 0o777 })
        continue
      }
      walk.out.push({ kind: 'file', path, digest, size, mode: st.mode & 0o777, source: abs })
    } else if (st.isSymbolicLink()) {
      replaced('symlink')
      const target = await readlink(abs)
      if (old?.kind === 'symlink' && old.target === target) continue
      walk.out.push({ kind: 'symlink', path, target })
    } else {
      log('%s: a socket, fifo or device the job left: not sent back', path)
    }
  }
}
