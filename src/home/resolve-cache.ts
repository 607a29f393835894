import { createHash } from 'node:crypto'
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { registerHooks, type ResolveFnOutput, type ResolveHookContext } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where each `import` of the daemon's ~650 modules led last time, so a start
 * need not search node_modules and read package.json files again for each
 * (Node's resolver was ~0.35 s of a daemon start's CPU, measured).
 *
 * A stale answer would run the wrong code, so the cache is all or nothing:
 * beside the answers it keeps the identity (inode, size, mtime in ns) of
 * everything Node's answer depended on — every directory on the way from
 * the importing and the imported files to /, each one's node_modules (and
 * node_modules/@scope for scoped names) and package.json — and is dropped
 * whole when one of them differs: a package installed, removed or
 * upgraded, a file added, moved or deleted, a package.json edited, a
 * symlink changed. An answer is only kept when none of those changed since
 * this process began resolving (an install running meanwhile: no cache).
 * One file per install and Node version; it lives in the same private
 * directory as the compile cache (module-cache.ts), as it too decides
 * what code runs.
 */
interface CacheFile {
  node: string
  /** every string below, once (the file is read at every start: small is fast) */
  strings: string[]
  /** flat: [conditions, parent, specifier, url, format (-1: none)], as indices into strings */
  answers: number[]
  /** flat: [path, identity when the answers were kept], as indices into strings */
  stamps: number[]
}

/** `conditions \0 parent \0 specifier` → [url, format] */
type Answers = Map<string, [string, string | undefined]>

const MARGIN_MS = 1000

function stamp (path: string): string {
  const s = statSync(path, { throwIfNoEntry: false })
  // mtimeMs keeps the nanoseconds' first digits
  return s == null ? '-' : `${s.ino}:${s.size}:${s.mtimeMs}`
}

function mtimeMs (stamp: string): number {
  return Number(stamp.split(':')[2] ?? 0)
}

/** The answers in `file` if it is for this Node and nothing they depend on changed. */
function readAnswers (file: string): Answers | undefined {
  const read = JSON.parse(readFileSync(file, 'utf8')) as CacheFile
  if (read.node !== process.version || !Array.isArray(read.strings) || !Array.isArray(read.answers) || !Array.isArray(read.stamps)) return undefined
  const str = read.strings
  for (let i = 0; i < read.stamps.length; i += 2) {
    if (stamp(str[read.stamps[i]]) !== str[read.stamps[i + 1]]) return undefined
  }
  const answers: Answers = new Map()
  const a = read.answers
  for (let i = 0; i < a.length; i += 5) {
    answers.set(`${str[a[i]]}\0${str[a[i + 1]]}\0${str[a[i + 2]]}`, [str[a[i + 3]], a[i + 4] < 0 ? undefined : str[a[i + 4]]])
  }
  return answers
}

function writeAnswers (file: string, answers: Answers, stamps: Map<string, string>): void {
  const strings: string[] = []
  const index = new Map<string, number>()
  const at = (s: string): number => {
    let i = index.get(s)
    if (i == null) { i = strings.push(s) - 1; index.set(s, i) }
    return i
  }
  const flat: number[] = []
  for (const [key, [url, format]] of answers) {
    const [conditions, parent, specifier] = key.split('\0')
    flat.push(at(conditions), at(parent), at(specifier), at(url), format == null ? -1 : at(format))
  }
  const stampList: number[] = []
  for (const [path, s] of stamps) stampList.push(at(path), at(s))
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify({ node: process.version, strings, answers: flat, stamps: stampList } satisfies CacheFile), { mode: 0o600 })
  renameSync(tmp, file)
}

/** The cache file of this install (kappa's package root) for one entry (`start`, `run`: each reads only its own) under Node `version`. */
export function resolveCacheFile (dir: string, entry: string, version = process.version): string {
  return join(dir, `resolve-${entry}-${createHash('sha256').update(installRoot()).digest('hex').slice(0, 12)}-${version}-${process.arch}.json`)
}

/** kappa's package root (this file is dist/src/home/resolve-cache.js) */
function installRoot (): string {
  return fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '')
}

export interface ResolveCache {
  /** answers reused from the file (0: it was absent or stale) */
  readonly reused: number
  /** keeps what was resolved since, unless something it depends on changed meanwhile; false when it did not write */
  save: () => boolean
}

/**
 * Answers Node's resolver from `file` while it is valid (see above), and
 * learns what it does not know. `root`: the install's root (tests: a
 * fixture's).
 */
export function enableResolveCache (file: string, root = installRoot()): ResolveCache {
  const began = Date.now()
  let answers: Answers = new Map()
  try {
    answers = readAnswers(file) ?? answers
  } catch {
    // absent or unreadable: resolved as usual, and kept for the next start
  }
  const reused = answers.size
  let learned = 0
  registerHooks({
    resolve (specifier: string, context: ResolveHookContext, next): ResolveFnOutput {
      // import attributes (JSON modules) are rare here: not worth a key
      if (Object.keys(context.importAttributes ?? {}).length > 0) return next(specifier, context)
      const key = `${context.conditions.join(',')}\0${context.parentURL ?? ''}\0${specifier}`
      const hit = answers.get(key)
      if (hit != null) return { url: hit[0], format: hit[1], shortCircuit: true }
      const r = next(specifier, context)
      answers.set(key, [r.url, r.format ?? undefined])
      learned++
      return r
    }
  })
  return {
    reused,
    save () {
      if (learned === 0) return false
      const stamps = stampsOf(answers, root)
      // changed since we began (an install running, a build): these answers may already be old
      for (const s of stamps.values()) if (mtimeMs(s) > began - MARGIN_MS) return false
      writeAnswers(file, answers, stamps)
      learned = 0
      return true
    }
  }
}

/** Everything the answers depend on (see above), with its identity now. */
function stampsOf (answers: Answers, root: string): Map<string, string> {
  const dirs = new Set<string>()
  const scopes = new Set<string>()
  // above the install's root only for files outside it: a package found in the install's
  // node_modules cannot be shadowed from above (the nearest node_modules wins), and /tmp or ~ change often
  const addFile = (url: string | undefined): void => {
    if (url?.startsWith('file:') !== true) return
    const file = fileURLToPath(url)
    const inside = file.startsWith(root + '/')
    for (let d = dirname(file); !dirs.has(d); d = dirname(d)) {
      dirs.add(d)
      if (dirname(d) === d || (inside && d === root)) break
    }
  }
  for (const [key, [url]] of answers) {
    const [, parent, specifier] = key.split('\0')
    addFile(parent)
    addFile(url)
    if (specifier.startsWith('@')) scopes.add(specifier.split('/')[0])
  }
  const stamps = new Map<string, string>()
  for (const d of dirs) {
    stamps.set(d, stamp(d))
    for (const p of [join(d, 'package.json'), join(d, 'node_modules'), ...[...scopes].map(s => join(d, 'node_modules', s))]) {
      const s = stamp(p)
      // absent ones are watched through their directory (creating one changes its mtime)
      if (s !== '-') stamps.set(p, s)
    }
  }
  return stamps
}
