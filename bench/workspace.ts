/**
 * bench/workspace (issue 10, acceptance 5): what a 10 000-file workspace
 * costs.
 *  - The origin's description of it: cold (a new scanner, so every file is
 *    stat'ed and hashed; the OS page cache is warm) and warm (the watched
 *    tree: no change, and one file changed just before).
 *  - The per-job cost it adds to bench/overhead's remote `true`: `run -- true`
 *    placed on B from an empty workspace and from the 10 000-file one
 *    (synced once before), alternating; the difference of the p50s.
 * Goals: warm ≤ 20 ms, added per-job cost ≤ 10 ms p50.
 * RUNS (default 30) sets the repetitions; BENCH_SHORT=1 makes a quick check.
 */
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { REPO, startNode, pairNodes, gossipLive, cleanup, tmpDir } from '../test/helpers/node.js'
import { WorkspaceScanner } from '../src/workspace/index.js'
import { percentile, timeIt, fmt } from './lib/stats.js'

const SHORT = process.env.BENCH_SHORT === '1'
const RUNS = Number(process.env.RUNS ?? (SHORT ? 5 : 30))
const FILES = 10_000

async function exec (cmd: string, args: string[], cwd: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { cwd, env: { ...process.env, PATH: '/usr/local/bin:/usr/bin:/bin' } }, (err, _out, stderr) => { err == null ? resolve() : reject(new Error(`${err.message}: ${stderr}`)) })
  })
}

async function makeWorkspace (files: number): Promise<string> {
  const root = await tmpDir('kappa-bench-ws-')
  await writeFile(join(root, '.kappa-workspace'), '')
  const perDir = 100
  for (let d = 0; d < Math.ceil(files / perDir); d++) {
    const dir = join(root, `src${String(d).padStart(3, '0')}`)
    await mkdir(dir)
    await Promise.all(Array.from({ length: Math.min(perDir, files - d * perDir) }, async (_, f) => {
      await writeFile(join(dir, `file${String(f).padStart(3, '0')}.c`), `/* ${d}/${f} */\n`.padEnd(1024, 'x') + '\n')
    }))
  }
  return root
}

function stats (name: string, t: number[]): string {
  process.stderr.write(`  ${name}: p50 ${fmt(percentile(t, 0.5))} ms\n`)
  return `| ${name} | ${fmt(percentile(t, 0.5))} | ${fmt(percentile(t, 0.9))} | ${t.length} |`
}

async function main (): Promise<void> {
  try {
    const big = await makeWorkspace(FILES)
    const empty = await tmpDir('kappa-bench-empty-')
    await writeFile(join(empty, '.kappa-workspace'), '')

    // the origin's description, in this process
    const cold: number[] = []
    for (let i = 0; i < Math.max(3, Math.round(RUNS / 5)); i++) {
      const scanner = new WorkspaceScanner()
      cold.push(await timeIt(async () => await scanner.snapshot(big)))
      scanner.close()
    }
    const scanner = new WorkspaceScanner()
    const first = await scanner.snapshot(big)
    const warm: number[] = []
    for (let i = 0; i < RUNS; i++) warm.push(await timeIt(async () => await scanner.snapshot(big)))
    const oneChange: number[] = []
    for (let i = 0; i < RUNS; i++) {
      await writeFile(join(big, 'src042/file042.c'), `changed ${i}\n`)
      oneChange.push(await timeIt(async () => await scanner.snapshot(big)))
    }
    // a build directory mid-build: 500 objects, and one more (with its .Plo) before each job
    const build = join(big, 'build')
    await mkdir(join(build, '.deps'), { recursive: true })
    for (let i = 0; i < 500; i++) await writeFile(join(build, `obj${i}.o`), `object ${i}\n`)
    await scanner.snapshot(big)
    const newObject: number[] = []
    for (let i = 0; i < RUNS; i++) {
      await writeFile(join(build, `new${i}.o`), `new object ${i}\n`)
      await writeFile(join(build, '.deps', `new${i}.Plo`), `dep ${i}\n`)
      newObject.push(await timeIt(async () => await scanner.snapshot(big)))
    }
    const watching = scanner.watching(big) === true
    scanner.close()

    // the per-job cost, through two daemons
    const [a, b] = await Promise.all([
      startNode('a', { args: ['--delay', '200', '--metric-override', '37'] }),
      startNode('b', { args: ['--delay', '200', '--metric-override', '148'] })
    ])
    await pairNodes(a, b)
    await gossipLive(a, b)
    const launcher = join(REPO, 'bin/kappa-node')
    const run = async (cwd: string): Promise<void> => { await exec(launcher, ['run', '--home', a.home, '--remote', '--', 'true'], cwd) }
    await run(big) // the first sync
    for (let i = 0; i < 3; i++) { await run(big); await run(empty) }
    const inEmpty: number[] = []
    const inBig: number[] = []
    for (let i = 0; i < RUNS; i++) {
      inEmpty.push(await timeIt(async () => { await run(empty) }))
      inBig.push(await timeIt(async () => { await run(big) }))
    }
    const added = percentile(inBig, 0.5) - percentile(inEmpty, 0.5)

    const lines = [
      `# bench/workspace — ${new Date().toISOString()}`,
      '',
      `Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores (shared with other work: noisy). A workspace of ${FILES} files of 1 KiB in ${Math.ceil(FILES / 100)} directories; ${RUNS} runs${SHORT ? ' (BENCH_SHORT)' : ''}. Tree of ${first.files} files, root ${first.digest.slice(0, 12)}; watched: ${watching ? 'yes (inotify)' : 'no (full scans)'}.`,
      '',
      '| what | p50 ms | p90 ms | runs |',
      '| --- | ---: | ---: | ---: |',
      stats('describe cold (new scanner: stat + hash every file)', cold),
      stats('describe warm, nothing changed', warm),
      stats('describe warm, one file changed just before', oneChange),
      stats('describe warm, one new object (and its .Plo) in a directory of 500', newObject),
      stats('run --remote -- true, empty workspace', inEmpty),
      stats(`run --remote -- true, ${FILES}-file workspace (synced)`, inBig),
      '',
      `Per-job cost the ${FILES}-file workspace adds (difference of the p50s): ${fmt(added)} ms (goal ≤ 10 ms: ${added <= 10 ? 'met' : 'not met'}). Warm description p50 ${fmt(percentile(warm, 0.5))} ms, after one change ${fmt(percentile(oneChange, 0.5))} ms (goal ≤ 20 ms: ${percentile(oneChange, 0.5) <= 20 ? 'met' : 'not met'}).`,
      ''
    ]
    process.stdout.write(lines.join('\n'))
    if (!SHORT) {
      await mkdir(join(REPO, 'bench/results'), { recursive: true })
      await writeFile(join(REPO, 'bench/results/workspace.md'), lines.join('\n'))
    }
  } finally {
    await cleanup()
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
