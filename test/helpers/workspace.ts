/** Helpers for workspace tests: a recursive description of a directory, and small file-tree builders. */
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { execFileSync } from 'node:child_process'
import type { Clock } from '../../src/migrate/liveness.js'

/**
 * Every path under `dir` (sorted) with its kind, mode, symlink target or
 * content digest, one line each: two directories with equal listings hold
 * the same files. `skip`: top-level names left out.
 */
export async function describeTree (dir: string, skip: string[] = []): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort()
    for (const name of names) {
      if (rel === '' && skip.includes(name)) continue
      const path = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(join(dir, path))
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isSymbolicLink()) out.push(`${path} symlink -> ${await readlink(join(dir, path))}`)
      else if (st.isDirectory()) { out.push(`${path}/ ${mode}`); await walk(path) }
      else if (st.isFile()) out.push(`${path} ${mode} ${createHash('sha256').update(await readFile(join(dir, path))).digest('hex').slice(0, 16)}`)
      else out.push(`${path} special`)
    }
  }
  await walk('')
  return out
}

/** One digest of `describeTree`. */
export async function treeHash (dir: string, skip: string[] = []): Promise<string> {
  return createHash('sha256').update((await describeTree(dir, skip)).join('\n')).digest('hex')
}

/**
 * Writes `files` (relative path → content; a mode with `path:mode`) under
 * `dir`. Synchronously, each directory made once: a tree of thousands of
 * files otherwise costs seconds of thread-pool round trips.
 */
export async function writeTree (dir: string, files: Record<string, string>): Promise<void> {
  const made = new Set<string>()
  for (const [spec, content] of Object.entries(files)) {
    const [path, mode] = spec.split(':')
    const parent = dirname(join(dir, path))
    if (!made.has(parent)) { mkdirSync(parent, { recursive: true }); made.add(parent) }
    writeFileSync(join(dir, path), content)
    if (mode != null) chmodSync(join(dir, path), parseInt(mode, 8))
  }
}

/** A copy of a directory, modes, symlinks and mtimes kept. */
export function copyTree (from: string, to: string): void {
  execFileSync('cp', ['-a', `${from}/.`, to])
}

/** A clock the test moves by hand (for deadlines that must not cost real time). */
export function manualClock (start = 0): { clock: Clock, advance: (ms: number) => void, pending: () => number } {
  let now = start
  const timers: Array<{ at: number, fn: () => void }> = []
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return t },
    clearTimeout: (t) => { const i = timers.indexOf(t as any); if (i >= 0) timers.splice(i, 1) }
  }
  /** Moves time on, firing each timer due on the way at its own moment. */
  const advance = (ms: number): void => {
    const end = now + ms
    for (;;) {
      timers.sort((a, b) => a.at - b.at)
      const next = timers[0]
      if (next == null || next.at > end) break
      timers.shift()
      now = next.at
      next.fn()
    }
    now = end
  }
  return { clock, advance, pending: () => timers.length }
}
