#!/usr/bin/env node
/**
 * `npm run build`, `prepare` and `npm test`'s first step: tsc → dist/, only
 * when an input changed since the last build (as make would). A README set-up
 * (`npm install`, then `npm link`, which runs `prepare` again) and `npm test`
 * after it used to compile the same tree three times, ~20 CPU s each.
 *
 * Inputs: every file and directory under src/, test/, bench/ and scripts/
 * (a directory's mtime changes when an entry is added, removed or renamed),
 * and the configuration files by content (npm install rewrites an unchanged
 * package-lock.json). The stamp's mtime is set to when the build started, so
 * an edit made while tsc runs is seen by the next build.
 * `--force` (or `npm run build -- --force`) compiles regardless.
 *
 * Then esbuild bundles the CLI (dist/src/cli/main.js and everything it
 * imports) into dist/src/cli/main.bundle.js, which bin/kappa-node starts for
 * every command but `run`: loading one file instead of ~650 modules cuts a
 * daemon's start from ~1.1 to ~0.45 CPU s (SPEC §2 note in docs/). Without
 * esbuild (an install without devDependencies) there is no bundle and the
 * launcher starts main.js, as before.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const STAMP = join(root, 'dist', '.build-stamp')
const DIRS = ['src', 'test', 'bench', 'scripts']
const FILES = ['tsconfig.json', 'package.json', 'package-lock.json']
const BUNDLE = join(root, 'dist', 'src', 'cli', 'main.bundle.js')

async function bundle () {
  let esbuild
  try {
    esbuild = await import('esbuild')
  } catch {
    process.stdout.write('esbuild is not installed: no bundle, kappa-node starts from dist/src/cli/main.js\n')
    return
  }
  await esbuild.build({
    entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // smaller to parse; names kept, so stack traces still say which function
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    // CommonJS dependencies call require(); an ES module has none of its own
    banner: { js: "import { createRequire as kappaCreateRequire } from 'node:module'; const require = kappaCreateRequire(import.meta.url);" }
  })
}

function mtime (path) {
  try { return statSync(path).mtimeMs } catch { return -1 }
}

/** The newest mtime of a tree's files and directories (the directories themselves included). */
function newest (dir) {
  let latest = mtime(dir)
  let entries
  try { entries = readdirSync(dir, { withFileTypes: true }) } catch { return latest }
  for (const e of entries) {
    const path = join(dir, e.name)
    latest = Math.max(latest, e.isDirectory() ? newest(path) : mtime(path))
  }
  return latest
}

function configDigest () {
  const hash = createHash('sha256')
  for (const f of FILES) {
    try { hash.update(readFileSync(join(root, f))) } catch { hash.update('-') }
    hash.update('\0')
  }
  return hash.digest('hex')
}

function stampDigest () {
  try { return JSON.parse(readFileSync(STAMP, 'utf8')).configs } catch { return undefined }
}

const force = process.argv.includes('--force')
const stamp = mtime(STAMP)
const configs = configDigest()
const sources = Math.max(...DIRS.map(d => newest(join(root, d))))
if (!force && stamp >= 0 && sources <= stamp && stampDigest() === configs) {
  process.stdout.write('dist/ is up to date (npm run build -- --force compiles anyway)\n')
  process.exit(0)
}

const started = new Date()
// compiled tests of deleted sources would still run (mocha takes dist/test/*.test.js)
rmSync(join(root, 'dist', 'test'), { recursive: true, force: true })
rmSync(STAMP, { force: true })
// a bundle of an older build must not outlive a failed one
rmSync(BUNDLE, { force: true })
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
await bundle()
writeFileSync(STAMP, JSON.stringify({ started: started.toISOString(), configs }) + '\n')
utimesSync(STAMP, started, started)
