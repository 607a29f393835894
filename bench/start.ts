/**
 * bench/start: the CPU one daemon start costs, with the module cache
 * (src/home/module-cache.ts) and without it (NODE_DISABLE_COMPILE_CACHE=1),
 * alternating in the same run; medians of RUNS (default 5) each and their
 * ratio. CPU is the daemon process's (all its threads, utime + stime from
 * /proc/<pid>/stat) at its `ready` line, as `npm test` starts ~100 of them:
 * `--json --no-mdns --http 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0`, a
 * fresh home seeded with the CPU benchmark a first daemon measured.
 * `RUNS=1 npm run bench:start` for a quick check.
 */
import { spawn } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { MAIN } from '../test/helpers/node.js'
import { DAEMON_NODE_FLAGS } from '../src/constants.js'
import { percentile, fmt } from './lib/stats.js'

const RUNS = Number(process.env.RUNS ?? 5)
const TICK_S = 0.01 // USER_HZ: 100 on Linux

async function cpuSeconds (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_S
}

/** One start in a fresh home: CPU seconds at `ready`. */
async function start (env: NodeJS.ProcessEnv, benchmark?: string): Promise<{ cpu: number, home: string }> {
  const home = await mkdtemp(join(tmpdir(), 'kappa-bench-start-'))
  if (benchmark != null) await copyFile(benchmark, join(home, 'benchmark.json'))
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, MAIN, 'start', '--home', home, '--json', '--no-mdns', '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  try {
    const cpu = await new Promise<number>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (line.includes('"type":"ready"')) cpuSeconds(proc.pid ?? 0).then(resolve, reject)
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
  // the first start measures the CPU benchmark (and fills the module cache); the others reuse its score
  const first = await start(process.env)
  const benchmark = join(await mkdtemp(join(tmpdir(), 'kappa-bench-score-')), 'benchmark.json')
  await copyFile(join(first.home, 'benchmark.json'), benchmark)
  await rm(first.home, { recursive: true, force: true })
  const cached: number[] = []
  const plain: number[] = []
  for (let i = 0; i < RUNS; i++) {
    for (const [series, env] of [[cached, process.env], [plain, { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' }]] as const) {
      const r = await start(env, benchmark)
      series.push(r.cpu)
      await rm(r.home, { recursive: true, force: true })
    }
  }
  await rm(join(benchmark, '..'), { recursive: true, force: true })
  const c = percentile(cached, 0.5)
  const p = percentile(plain, 0.5)
  process.stdout.write(`daemon start CPU, median of ${RUNS}: ${fmt(c * 1000)} ms with the module cache, ${fmt(p * 1000)} ms without; ratio ${(c / p).toFixed(2)}\n`)
}

await main()
