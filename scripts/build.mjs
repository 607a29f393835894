#!/usr/bin/env node
/**
 * `npm run build`, `prepare` and `npm test`'s first step: src/, test/, bench/
 * and scripts/ → dist/, only when an input changed since the last build (as
 * make would).
 *
 * esbuild writes the JavaScript, file by file (~1 s for the tree), and then
 * bundles the CLI (dist/src/cli/main.js and everything it imports) into
 * dist/src/cli/main.bundle.js, which bin/kappa-node starts for `start`:
 * loading one file instead of ~650 modules cuts a daemon's start from ~1.1
 * to ~0.45 CPU s. CLI calls keep main.js, which loads only what a command
 * needs. tsc only checks types: `--check` (npm test) runs `tsc --noEmit`
 * when an input changed since the last check that passed. A README set-up
 * used to spend ~16 CPU s in tsc's emit; it now spends ~1.
 *
 * Inputs: every file and directory under src/, test/, bench/ and scripts/
 * (a directory's mtime changes when an entry is added, removed or renamed),
 * and the configuration files by content (npm install rewrites an unchanged
 * package-lock.json). A stamp's mtime is set to when its step started, so
 * an edit made meanwhile is seen by the next run.
 * `--force` (or `npm run build -- --force`) builds (and checks) regardless.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const STAMP = join(root, 'dist', '.build-stamp')
const CHECK_STAMP = join(root, 'dist', '.check-stamp')
const DIRS = ['src', 'test', 'bench', 'scripts']
const FILES = ['tsconfig.json', 'package.json', 'package-lock.json']
const BUNDLE = join(root, 'dist', 'src', 'cli', 'main.bundle.js')
/** dist/kappa-run: the C run client (bin/kappa-node starts it for `run`) */
const NATIVE = 'kappa-run'

async function emit () {
  const { build } = await import('esbuild')
  const entryPoints = DIRS.flatMap(d => readdirSync(join(root, d), { recursive: true }).filter(f => f.endsWith('.ts')).map(f => join(root, d, f)))
  // tsconfig.json is read for target and class-field semantics
  await build({ entryPoints, outdir: join(root, 'dist'), outbase: root, format: 'esm', platform: 'node', target: 'node22', sourcemap: true, logLevel: 'warning' })
  await build({
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
  nativeClient()
}

/**
 * The C run client (src/run/kappa-run.c) as dist/kappa-run, with the first C
 * compiler found: bin/kappa-node starts it for `run` (~1 ms of CPU instead of
 * a Node start, ~70 ms). Without a compiler `run` starts Node, as before.
 */
function nativeClient () {
  const out = join(root, 'dist', NATIVE)
  // an older build's client must not outlive a failed one
  rmSync(out, { force: true })
  for (const cc of ['cc', 'gcc', 'clang']) {
    const tmp = `${out}.${process.pid}.tmp`
    const r = spawnSync(cc, ['-O2', '-o', tmp, join(root, 'src', 'run', 'kappa-run.c')], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    if (r.error?.code === 'ENOENT') continue
    if (r.status === 0) { renameSync(tmp, out); return }
    rmSync(tmp, { force: true })
    process.stdout.write(`build: ${cc} could not build ${NATIVE} (${(r.stderr ?? '').trim().split('\n')[0]}); \`kappa-node run\` starts Node\n`)
    return
  }
  process.stdout.write(`build: no C compiler (cc, gcc, clang) for ${NATIVE}; \`kappa-node run\` starts Node\n`)
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

function stampDigest (file) {
  try { return JSON.parse(readFileSync(file, 'utf8')).configs } catch { return undefined }
}

/** Runs step() unless `file` says it ran for these inputs; marks it done when step() returns. */
async function stamped (file, upToDate, step) {
  if (!force && mtime(file) >= 0 && sources <= mtime(file) && stampDigest(file) === configs) {
    process.stdout.write(upToDate)
    return
  }
  const started = new Date()
  rmSync(file, { force: true })
  await step()
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), configs }) + '\n')
  utimesSync(file, started, started)
}

const force = process.argv.includes('--force')
const configs = configDigest()
const sources = Math.max(...DIRS.map(d => newest(join(root, d))))

await stamped(STAMP, 'dist/ is up to date (npm run build -- --force builds anyway)\n', async () => {
  // compiled tests of deleted sources would still run (mocha takes dist/test/*.test.js)
  rmSync(join(root, 'dist', 'test'), { recursive: true, force: true })
  // a bundle of an older build must not outlive a failed one
  rmSync(BUNDLE, { force: true })
  try {
    await emit()
  } catch (err) {
    // esbuild printed its own build errors; anything else (no node_modules yet) says what it was
    if (!Array.isArray(err?.errors)) console.error(`build: ${err?.message ?? err} (has npm install run?)`)
    process.exit(1)
  }
})

if (process.argv.includes('--check')) {
  await stamped(CHECK_STAMP, 'types were checked for these sources\n', () => {
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
    if (tsc.status !== 0) process.exit(tsc.status ?? 1)
  })
}
