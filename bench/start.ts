/**
 * bench/start: the CPU one daemon start costs, the median of RUNS (default
 * 5), against a bare `node -e 0` in the same run (Node's own start, the
 * floor). CPU is the daemon process's (all its threads, utime + stime from
 * /proc/<pid>/stat) at its `ready` line, as `npm test` starts ~100 of them:
 * `--json --no-mdns --http 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0`, a
 * fresh home seeded with the CPU benchmark a first daemon measured.
 * `RUNS=1 npm run bench:start` for a quick check.
 */
import { spawn } from 'node:child_process'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { DAEMON_MAIN } from '../test/helpers/node.js'
import { DAEMON_NODE_FLAGS } from '../src/constants.js'
import { percentile, fmt, processCpu } from './lib/stats.js'

const RUNS = Number(process.env.RUNS ?? 5)

/** One start in a fresh home: CPU seconds at `ready`. */
async function start (env: NodeJS.ProcessEnv, benchmark?: string): Promise<{ cpu: number, home: string }> {
  const home = await mkdtemp(join(tmpdir(), 'kappa-bench-start-'))
  if (benchmark != null) await copyFile(benchmark, join(home, 'benchmark.json'))
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, 'start', '--home', home, '--json', '--no-mdns', '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  try {
    const cpu = await new Promise<number>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (line.includes('"type":"ready"')) resolve(processCpu(proc.pid ?? 0).self)
      })
      void exited.then(() => { reject(new Error('the daemon exited before it was ready')) })
    })
    return { cpu, home }
  } finally {
    proc.kill('SIGINT')
    await exited
  }
}

async function main (): Promise<void> {
  // the first start measures the CPU benchmark; the others reuse its score
  const first = await start(process.env)
  const benchmark = join(await mkdtemp(join(tmpdir(), 'kappa-bench-score-')), 'benchmark.json')
  await copyFile(join(first.home, 'benchmark.json'), benchmark)
  await rm(first.home, { recursive: true, force: true })
  const starts: number[] = []
  const bare: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const r = await start(process.env, benchmark)
    starts.push(r.cpu)
    await rm(r.home, { recursive: true, force: true })
    bare.push(await bareNode())
  }
  await rm(join(benchmark, '..'), { recursive: true, force: true })
  const d = percentile(starts, 0.5)
  const b = percentile(bare, 0.5)
  process.stdout.write(`daemon start CPU, median of ${RUNS}: ${fmt(d * 1000)} ms to its ready line; a bare node -e 0: ${fmt(b * 1000)} ms; ratio ${(d / b).toFixed(1)}\n`)
}

/** CPU seconds of `node -e 0`: this process's waited-for children's CPU before and after it. */
async function bareNode (): Promise<number> {
  const before = processCpu('self').children
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
    child.once('error', reject)
    child.once('exit', () => { resolve() })
  })
  return processCpu('self').children - before
}

await main()
