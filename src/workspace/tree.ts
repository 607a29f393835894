import { createHash } from 'node:crypto'
import { Directory, type FileNode, type DirectoryNode, type SymlinkNode } from '../wire/workspace.js'
import { MAX_DIRECTORY_BYTES } from './constants.js'

export { Directory }
export type { FileNode, DirectoryNode, SymlinkNode }

/** A digest as a map key: lowercase hex of the sha256. */
export type Hex = string

export function sha256 (data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

export function hex (digest: Uint8Array): Hex {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')
}

export function unhex (digest: Hex): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(Buffer.from(digest, 'hex'))
}

export const EMPTY_BLOB: Hex = createHash('sha256').digest('hex')

const DECODE_LIMITS = { limits: { files: 200_000, directories: 200_000, symlinks: 200_000 } }

/** Entries sorted bytewise by name (REAPI's canonical order: equal trees encode equally). */
function byName<T extends { name: string }> (a: T, b: T): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name))
}

/** The canonical encoding of a directory and its digest. */
export function encodeDirectory (dir: Directory): { bytes: Uint8Array, digest: Hex } {
  const bytes = Directory.encode({
    files: [...dir.files].sort(byName),
    directories: [...dir.directories].sort(byName),
    symlinks: [...dir.symlinks].sort(byName)
  })
  return { bytes, digest: hex(sha256(bytes)) }
}

/** Decodes a Directory a peer sent, refusing what no honest peer sends (unsafe names, bad digests, duplicates). */
export function decodeDirectory (bytes: Uint8Array): Directory {
  if (bytes.byteLength > MAX_DIRECTORY_BYTES) throw new Error(`a directory message of ${bytes.byteLength} bytes is over the ${MAX_DIRECTORY_BYTES} limit`)
  const dir = Directory.decode(bytes, DECODE_LIMITS)
  const names = new Set<string>()
  for (const e of [...dir.files, ...dir.directories, ...dir.symlinks]) {
    if (!safeName(e.name)) throw new Error(`unsafe name '${e.name}' in a directory message`)
    if (names.has(e.name)) throw new Error(`'${e.name}' twice in one directory message`)
    names.add(e.name)
  }
  for (const f of dir.files) if (f.digest.length !== 32) throw new Error(`malformed digest for '${f.name}'`)
  for (const d of dir.directories) if (d.digest.length !== 32) throw new Error(`malformed digest for '${d.name}/'`)
  for (const s of dir.symlinks) if (s.target === '' || s.target.includes('\0')) throw new Error(`malformed symlink '${s.name}'`)
  return dir
}

/** One path component as a peer may name it. */
export function safeName (name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= 255
}

/** What stands at one path of a tree. */
export type TreeEntry =
  | { kind: 'file', digest: Hex, size: number, mode: number, mtimeMs: number }
  | { kind: 'symlink', target: string }
  | { kind: 'dir', digest: Hex, mode: number }

/** Where the tree's directory messages come from (a snapshot's map, a store). */
export interface DirectorySource {
  directory: (digest: Hex) => Directory | undefined
}

const fileEntry = (f: FileNode): TreeEntry => ({ kind: 'file', digest: hex(f.digest), size: Number(f.size), mode: f.mode, mtimeMs: Number(f.mtimeMs) })
const dirEntry = (d: DirectoryNode): TreeEntry => ({ kind: 'dir', digest: hex(d.digest), mode: d.mode })
const symlinkEntry = (s: SymlinkNode): TreeEntry => ({ kind: 'symlink', target: s.target })

/** The entries of one directory by name. */
export function entriesOf (dir: Directory): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>()
  for (const f of dir.files) out.set(f.name, fileEntry(f))
  for (const d of dir.directories) out.set(d.name, dirEntry(d))
  for (const s of dir.symlinks) out.set(s.name, symlinkEntry(s))
  return out
}

/** One entry of a directory by name: a lookup in a build's object directory converts one digest, not hundreds. */
export function entryOf (dir: Directory, name: string): TreeEntry | undefined {
  const f = dir.files.find(e => e.name === name)
  if (f != null) return fileEntry(f)
  const d = dir.directories.find(e => e.name === name)
  if (d != null) return dirEntry(d)
  const s = dir.symlinks.find(e => e.name === name)
  return s != null ? symlinkEntry(s) : undefined
}

/** What a tree holds at `rel` ('' is the root), without following symlinks; undefined if nothing. */
export function lookup (source: DirectorySource, root: Hex, rootMode: number, rel: string): TreeEntry | undefined {
  let entry: TreeEntry = { kind: 'dir', digest: root, mode: rootMode }
  if (rel === '') return entry
  for (const name of rel.split('/')) {
    if (entry.kind !== 'dir') return undefined
    const dir = source.directory(entry.digest)
    if (dir == null) return undefined
    const next = entryOf(dir, name)
    if (next == null) return undefined
    entry = next
  }
  return entry
}

/** A small least-recently-used map (insertion order is use order). */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>()
  constructor (private readonly max: number) {}

  get (key: K): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }

  has (key: K): boolean {
    return this.map.has(key)
  }

  set (key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as K
      this.map.delete(oldest)
    }
  }

  delete (key: K): void {
    this.map.delete(key)
  }

  clear (): void {
    this.map.clear()
  }

  get size (): number {
    return this.map.size
  }

  keys (): IterableIterator<K> {
    return this.map.keys()
  }
}
