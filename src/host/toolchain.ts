/**
 * Toolchain identity (issue 13, docs/toolchain.md): what an executable needs
 * to behave the same on another machine, as files with their content. For
 * any ELF executable: itself, its ELF interpreter and its shared libraries
 * as this machine's loader resolves them. For a compiler driver (gcc, g++,
 * cc, c++, clang, clang++, with prefixes and versions): also the programs it
 * runs (cc1, cc1plus, as, ld, collect2, lto-wrapper, …) with their own
 * libraries, and the files of the system include directories it searches.
 * The result is a list of (absolute path, sha256, mode) and one digest over
 * it; two machines with the same digest run the executable with the same
 * files. Pure facts of this machine: no network, no daemon. The program
 * itself is never run to find its libraries (its ELF headers are read, and
 * the system's own loader lists them); a compiler driver is asked for its
 * programs and include directories, as icecream's environment builder does.
 * Every file is hashed once per (path, size, mtime, inode).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { threadId } from 'node:worker_threads'
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { findExecutable } from './requirements.js'
import { isCompilerDriver } from './drivers.js'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('host:toolchain')

export type ToolchainRole = 'executable' | 'interpreter' | 'library' | 'program' | 'header'

export interface ToolchainFile {
  /** absolute path as the program (or its loader) names it; symlinks are followed for the content */
  path: string
  /** hex sha256 of the content */
  sha256: string
  /** permission bits of the file reached */
  mode: number
  size: number
  role: ToolchainRole
}

export interface ToolchainIdentity {
  executable: string
  /** sorted by path, one entry per path */
  files: ToolchainFile[]
  /** sha256 over the sorted `path NUL sha256 NUL mode` lines */
  digest: string
  /** shared libraries the loader could not find here (the program would not start here either) */
  missing: string[]
  /** the compiler's include search directories, in order (empty for other programs) */
  includeDirs: string[]
  /** every directory walked under them (an added or removed header changes one of their stats) */
  dirs: string[]
}

export class ToolchainError extends Error {}

export { isCompilerDriver }

// ---- ELF ----------------------------------------------------------------

const PT_INTERP = 3
const MAX_HEADER_BYTES = 64 * 1024

/**
 * The ELF interpreter (PT_INTERP) of the file at `path`; undefined for a
 * static executable or a file that is not ELF. Reads the headers only;
 * throws ToolchainError on a malformed one.
 */
export function elfInterpreter (path: string): string | undefined {
  const fd = openSync(path, 'r')
  try {
    const head = Buffer.alloc(64)
    if (readSync(fd, head, 0, 64, 0) < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined
    const is64 = head[4] === 2
    const le = head[5] === 1
    if ((head[4] !== 1 && head[4] !== 2) || (head[5] !== 1 && head[5] !== 2)) throw new ToolchainError(`${path}: unknown ELF class or byte order`)
    const u16 = (b: Buffer, o: number): number => le ? b.readUInt16LE(o) : b.readUInt16BE(o)
    const u32 = (b: Buffer, o: number): number => le ? b.readUInt32LE(o) : b.readUInt32BE(o)
    const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o))
    const phoff = is64 ? u64(head, 0x20) : u32(head, 0x1c)
    const phentsize = u16(head, is64 ? 0x36 : 0x2a)
    const phnum = u16(head, is64 ? 0x38 : 0x2c)
    if (phnum === 0) return undefined
    if (phentsize < (is64 ? 56 : 32) || phentsize * phnum > MAX_HEADER_BYTES || !Number.isSafeInteger(phoff)) throw new ToolchainError(`${path}: malformed ELF program headers`)
    const table = Buffer.alloc(phentsize * phnum)
    if (readSync(fd, table, 0, table.length, phoff) !== table.length) throw new ToolchainError(`${path}: truncated ELF program headers`)
    for (let i = 0; i < phnum; i++) {
      const ph = table.subarray(i * phentsize, (i + 1) * phentsize)
      if (u32(ph, 0) !== PT_INTERP) continue
      const offset = is64 ? u64(ph, 0x08) : u32(ph, 0x04)
      const size = is64 ? u64(ph, 0x20) : u32(ph, 0x10)
      if (size < 2 || size > 4096 || !Number.isSafeInteger(offset)) throw new ToolchainError(`${path}: malformed PT_INTERP`)
      const name = Buffer.alloc(size)
      if (readSync(fd, name, 0, size, offset) !== size) throw new ToolchainError(`${path}: truncated PT_INTERP`)
      const interp = name.toString('latin1').replace(/\0.*$/s, '')
      if (!interp.startsWith('/')) throw new ToolchainError(`${path}: PT_INTERP is not an absolute path`)
      return interp
    }
    return undefined
  } finally {
    closeSync(fd)
  }
}

/**
 * Only the system's own loader is ever run (with --list, which maps the
 * libraries and runs none of the program's code): an interpreter named by
 * an ELF that resolves to anything else is not executed.
 */
function systemLoader (interp: string): string | undefined {
  let real: string
  try { real = realpathSync(interp) } catch { return undefined }
  if (!/^ld(?:-linux)?[-A-Za-z0-9_.]*\.so(?:\.\d+)*$/.test(basename(real))) return undefined
  if (!/^\/(?:usr\/)?lib(?:32|64|x32)?(?:\/[^/]+)?$/.test(dirname(real))) return undefined
  return real
}

/** `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` lines of `ld.so --list`. */
export function parseLoaderList (text: string): { found: string[], missing: string[] } {
  const found: string[] = []
  const missing: string[] = []
  for (const line of text.split('\n')) {
    const arrow = /^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line)
    if (arrow != null) {
      if (arrow[2] === 'not found') missing.push(arrow[1])
      else if (arrow[2].startsWith('/')) found.push(arrow[2])
      continue
    }
    // the loader itself, listed by its absolute path; linux-vdso is in the kernel
    const bare = /^\s*(\/\S+) \(0x[0-9a-f]+\)$/.exec(line)
    if (bare != null) found.push(bare[1])
  }
  return { found, missing }
}

// ---- hashing, cached by (path, size, mtime, inode) ------------------------

export interface Hashed { size: number, mtimeMs: number, ctimeMs: number, ino: number, dev: number, sha256: string, mode: number }
const hashes = new Map<string, Hashed>()
/** files hashed (not served from the cache) since start: for tests and curiosity */
export const toolchainStats = { hashed: 0 }

/** sha256 and permission bits of the file at `path` (`st` its stat, symlinks followed), hashed once per (path, size, mtime, inode). */
export function hashFile (path: string, st: Stats): Hashed {
  const hit = hashes.get(path)
  if (hit != null && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino && hit.dev === st.dev && hit.ctimeMs === st.ctimeMs) return hit
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024)
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n <= 0) break
      hash.update(buf.subarray(0, n))
    }
  } finally {
    closeSync(fd)
  }
  toolchainStats.hashed++
  const entry = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev, sha256: hash.digest('hex'), mode: st.mode & 0o7777 }
  if (hashes.size > 100_000) hashes.clear()
  hashes.set(path, entry)
  dirty = true
  return entry
}

// ---- the caches, kept on disk per machine ---------------------------------

let dirty = false
let cacheFile: string | undefined
/** whole results (an identity, a comparison) with the stat checks that say whether they still hold */
const results = new Map<string, unknown>()
const MAX_RESULTS = 64

/** A result kept with the caches (and on disk with them), by key. */
export function recall (key: string): unknown {
  return results.get(key)
}

export function remember (key: string, value: unknown): void {
  results.delete(key)
  results.set(key, value)
  while (results.size > MAX_RESULTS) results.delete(results.keys().next().value as string)
  dirty = true
}

/**
 * Keeps the hashes (and what drivers and the loader said) in `file` too, so
 * that a daemon's first identity of gcc does not read ~8 000 headers again
 * after a restart, or when another daemon of this user on this machine read
 * them already. Entries are keyed by (path, size, mtime, ctime, inode): a
 * file changed since is hashed again. The file is used only when it and its
 * directory belong to this user and nobody else may write them.
 */
export function persistCaches (file: string): void {
  cacheFile = file
  const uid = process.getuid?.()
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    for (const p of [dirname(file), file]) {
      const st = lstatSync(p)
      if ((uid != null && st.uid !== uid) || (st.mode & 0o022) !== 0 || st.isSymbolicLink()) { cacheFile = undefined; return }
    }
    const saved = JSON.parse(readFileSync(file, 'utf8'))
    for (const [path, h] of Object.entries(saved.hashes ?? {})) {
      const e = h as Hashed
      if (typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256) && typeof e.size === 'number') hashes.set(path, e)
    }
    for (const [path, d] of Object.entries(saved.drivers ?? {})) drivers.set(path, d as DriverFacts)
    for (const [path, l] of Object.entries(saved.listings ?? {})) listings.set(path, l as Listing)
    for (const [key, r] of Object.entries(saved.results ?? {})) results.set(key, r)
  } catch {
    // none yet, or unreadable: it is written anew
  }
}

/** What is kept on disk: the system's own files (a compiler in a project or a temporary directory comes and goes). */
function lasting (path: string): boolean {
  return /^\/(?:usr|bin|sbin|lib[^/]*|opt)\//.test(path)
}

/** Writes the caches back if anything new was learned (atomically: a temp file renamed over). */
export function saveCaches (): void {
  if (!dirty || cacheFile == null) return
  dirty = false
  const tmp = `${cacheFile}.${process.pid}.${threadId}.tmp`
  const kept = <V>(map: Map<string, V>, pathOf: (key: string) => string = k => k): Record<string, V> => Object.fromEntries([...map].filter(([k]) => lasting(pathOf(k))))
  try {
    writeFileSync(tmp, JSON.stringify({
      hashes: kept(hashes),
      drivers: kept(drivers),
      listings: kept(listings),
      // identities by `id:<path>\0<name>`; comparisons (`cmp:<digest>`) are small
      results: kept(results, k => k.startsWith('id:') ? k.slice(3) : '/usr/')
    }), { mode: 0o600 })
    renameSync(tmp, cacheFile)
  } catch {
    // a cache: the next identity computes again; no half-written file is left behind
    try { unlinkSync(tmp) } catch (err) { debug('%s: %s', 'removing a temporary file', errorMessage(err)) }
  }
}

// ---- the identity ---------------------------------------------------------

interface DriverFacts { key: string, programs: string[], includeDirs: string[] }
/** what a driver said about itself, by its (path, size, mtime, inode): asking costs a process each */
const drivers = new Map<string, DriverFacts>()

function statKey (path: string): string {
  const st = statSync(path)
  return `${path}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.dev}:${st.ino}`
}

const GCC_PROGRAMS = ['cc1', 'cc1plus', 'collect2', 'lto-wrapper', 'lto1', 'as', 'ld']
const CLANG_PROGRAMS = ['as', 'ld']

function ask (driver: string, args: string[]): string {
  const r = spawnSync(driver, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }, timeout: 30_000, input: '' })
  if (r.error != null) throw new ToolchainError(`${driver}: ${r.error.message}`)
  return `${r.stdout ?? ''}${r.stderr ?? ''}`
}

/** The include search list a driver prints for `-E -v` (`#include <...> search starts here:` … `End of search list.`). */
export function parseIncludeDirs (text: string): string[] {
  const dirs: string[] = []
  let inside = false
  for (const line of text.split('\n')) {
    if (line.startsWith('#include <...> search starts here:')) { inside = true; continue }
    if (line.startsWith('End of search list.')) break
    if (inside && line.startsWith(' /')) dirs.push(line.trim().replace(/ \(framework directory\)$/, ''))
  }
  return dirs
}

function driverFacts (driver: string, name: string): DriverFacts {
  const key = statKey(driver)
  const hit = drivers.get(driver)
  if (hit?.key === key) return hit
  const clang = /clang/.test(name)
  const programs: string[] = []
  for (const prog of clang ? CLANG_PROGRAMS : GCC_PROGRAMS) {
    const said = ask(driver, [`-print-prog-name=${prog}`]).trim().split('\n')[0] ?? ''
    // an absolute path is the driver's own; a bare name is looked up on PATH, as the driver does
    const path = said.startsWith('/') ? said : findExecutable(said)
    if (path != null) try { statSync(path); programs.push(path) } catch (err) { debug('%s: %s', 'a program the driver names is missing', errorMessage(err)) }
  }
  const language = /\+\+/.test(name) ? 'c++' : 'c'
  const includeDirs = parseIncludeDirs(ask(driver, ['-E', '-v', '-x', language, '/dev/null']))
  const facts = { key, programs, includeDirs }
  drivers.set(driver, facts)
  dirty = true
  return facts
}

/** Regular files under `dir`, depth-first, symlinks to files followed, to directories not (no cycles); `dirs` gets each directory read. */
function filesUnder (dir: string, out: string[], dirs: string[], seen = new Set<string>()): void {
  let entries: string[]
  try { entries = readdirSync(dir) } catch { return }
  dirs.push(dir)
  for (const name of entries.sort()) {
    const path = join(dir, name)
    let st: Stats
    try { st = lstatSync(path) } catch { continue }
    if (st.isDirectory()) {
      if (!seen.has(path)) { seen.add(path); filesUnder(path, out, dirs, seen) }
    } else if (st.isFile()) {
      out.push(path)
    } else if (st.isSymbolicLink()) {
      try { if (statSync(path).isFile()) out.push(path) } catch (err) { debug('%s: %s', 'a listed file is missing', errorMessage(err)) }
    }
  }
}

/** what the loader listed for an executable, by its (path, size, mtime, inode) */
interface Listing { key: string, found: string[], missing: string[] }
const listings = new Map<string, Listing>()

function loaderList (exe: string, interp: string): { found: string[], missing: string[] } {
  const key = statKey(exe)
  const hit = listings.get(exe)
  if (hit?.key === key) return hit
  const loader = systemLoader(interp)
  if (loader == null) throw new ToolchainError(`${exe}: its ELF interpreter ${interp} is not this system's loader; not run to list its libraries`)
  const r = spawnSync(loader, ['--list', exe], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, timeout: 30_000 })
  if (r.error != null) throw new ToolchainError(`${loader} --list ${exe}: ${r.error.message}`)
  const listed = { key, ...parseLoaderList(r.stdout ?? '') }
  if (listings.size > 10_000) listings.clear()
  listings.set(exe, listed)
  dirty = true
  return listed
}

export interface ToolchainOptions {
  /** treat the executable as a compiler driver (default: by its name, isCompilerDriver) */
  compiler?: boolean
  /** the name it is called by, for isCompilerDriver (default the path's basename) */
  name?: string
}

/**
 * The toolchain identity of the executable at `path` (absolute). Throws
 * ToolchainError when it cannot be known safely (an ELF whose interpreter
 * is not the system's loader, a driver that cannot be asked).
 */
export function toolchainIdentity (path: string, opts: ToolchainOptions = {}): ToolchainIdentity {
  const files = new Map<string, ToolchainFile>()
  const missing = new Set<string>()
  const add = (file: string, role: ToolchainRole): boolean => {
    if (files.has(file)) return false
    const st = statSync(file)
    if (!st.isFile()) return false
    const h = hashFile(file, st)
    files.set(file, { path: file, sha256: h.sha256, mode: h.mode, size: h.size, role })
    return true
  }
  const withLibraries = (exe: string, role: ToolchainRole): void => {
    if (!add(exe, role)) return
    const interp = elfInterpreter(exe)
    if (interp == null) return
    add(interp, 'interpreter')
    const listed = loaderList(exe, interp)
    for (const m of listed.missing) missing.add(m)
    for (const lib of listed.found) if (lib !== interp) add(lib, 'library')
  }
  withLibraries(path, 'executable')
  let includeDirs: string[] = []
  const dirs: string[] = []
  if (opts.compiler ?? isCompilerDriver(opts.name ?? path)) {
    const facts = driverFacts(path, basename(opts.name ?? path))
    for (const prog of facts.programs) withLibraries(prog, 'program')
    includeDirs = facts.includeDirs
    const headers: string[] = []
    for (const dir of includeDirs) filesUnder(dir, headers, dirs)
    for (const h of headers) add(h, 'header')
  }
  const sorted = [...files.values()].sort((x, y) => x.path < y.path ? -1 : x.path > y.path ? 1 : 0)
  return { executable: path, files: sorted, digest: toolchainDigest(sorted), missing: [...missing].sort(), includeDirs, dirs }
}

/** One digest over a file list (order-independent: sorted by path first). */
export function toolchainDigest (files: ReadonlyArray<Pick<ToolchainFile, 'path' | 'sha256' | 'mode'>>): string {
  const hash = createHash('sha256')
  for (const f of [...files].sort((x, y) => x.path < y.path ? -1 : x.path > y.path ? 1 : 0)) hash.update(`${f.path}\0${f.sha256}\0${f.mode.toString(8)}\n`)
  return hash.digest('hex')
}
