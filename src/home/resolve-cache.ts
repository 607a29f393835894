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
 * directory as the compile cache (see enableModuleCache), as it too decides
 * what code runs.
 */
interface CacheFile {
  node: string
  /** `conditions \0 parent \0 specifier` → [url, format] */
  answers: Record<string, [string, string | null | undefined]>
  /** path → identity when the answers were kept ('-' absent) */
  stamps: Record<string, string>
}

const MARGIN_MS = 1000

function stamp (path: string): string {
  try {
    const s = statSync(path, { bigint: true })
    return `${s.ino}:${s.size}:${s.mtimeNs}`
  } catch {
    return '-'
  }
}

function mtimeMs (stamp: string): number {
  const ns = stamp.split(':')[2]
  return ns == null ? 0 : Number(BigInt(ns) / 1000000n)
}

/** The cache file of this install (kappa's package root) under Node `version`. */
export function resolveCacheFile (dir: string, version = process.version): string {
  return join(dir, `resolve-${createHash('sha256').update(installRoot()).digest('hex').slice(0, 12)}-${version}-${process.arch}.json`)
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

/** Answers Node's resolver from `file` while it is valid (see above), and learns what it does not know. */
export function enableResolveCache (file: string): ResolveCache {
  const began = Date.now()
  let known: CacheFile | undefined
  try {
    const read = JSON.parse(readFileSync(file, 'utf8')) as CacheFile
    if (read.node === process.version && Object.entries(read.stamps).every(([path, s]) => stamp(path) === s)) known = read
  } catch {
    // absent or unreadable: resolved as usual, and kept for the next start
  }
  const answers: CacheFile['answers'] = known?.answers ?? {}
  const reused = Object.keys(answers).length
  let learned = 0
  registerHooks({
    resolve (specifier: string, context: ResolveHookContext, next): ResolveFnOutput {
      // import attributes (JSON modules) are rare here: not worth a key
      if (Object.keys(context.importAttributes ?? {}).length > 0) return next(specifier, context)
      const key = `${context.conditions.join(',')}\0${context.parentURL ?? ''}\0${specifier}`
      const hit = answers[key]
      if (hit != null) return { url: hit[0], format: hit[1], shortCircuit: true }
      const r = next(specifier, context)
      answers[key] = [r.url, r.format]
      learned++
      return r
    }
  })
  return {
    reused,
    save () {
      if (learned === 0) return false
      const stamps = stampsOf(answers)
      // changed since we began (an install running, a build): these answers may already be old
      if (Object.values(stamps).some(s => mtimeMs(s) > began - MARGIN_MS)) return false
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, JSON.stringify({ node: process.version, answers, stamps } satisfies CacheFile), { mode: 0o600 })
      renameSync(tmp, file)
      learned = 0
      return true
    }
  }
}

/** Everything the answers depend on (see above), with its identity now. */
function stampsOf (answers: CacheFile['answers']): Record<string, string> {
  const dirs = new Set<string>()
  const scopes = new Set<string>()
  // above the install's root only for files outside it: a package found in the install's
  // node_modules cannot be shadowed from above (the nearest node_modules wins), and /tmp or ~ change often
  const root = installRoot()
  const addFile = (url: string | undefined): void => {
    if (url?.startsWith('file:') !== true) return
    const file = fileURLToPath(url)
    const inside = file.startsWith(root + '/')
    for (let d = dirname(file); !dirs.has(d); d = dirname(d)) {
      dirs.add(d)
      if (dirname(d) === d || (inside && d === root)) break
    }
  }
  for (const [key, [url]] of Object.entries(answers)) {
    const [, parent, specifier] = key.split('\0')
    addFile(parent)
    addFile(url)
    if (specifier.startsWith('@')) scopes.add(specifier.split('/')[0])
  }
  const stamps: Record<string, string> = {}
  for (const d of dirs) {
    stamps[d] = stamp(d)
    for (const p of [join(d, 'package.json'), join(d, 'node_modules'), ...[...scopes].map(s => join(d, 'node_modules', s))]) {
      const s = stamp(p)
      // absent ones are watched through their directory (creating one changes its mtime)
      if (s !== '-') stamps[p] = s
    }
  }
  return stamps
}
