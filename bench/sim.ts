/**
 * Simulator benchmark: Kappa (paper-faithful and with split horizon) against
 * always-local, random neighbour, power-of-two-choices and a central oracle,
 * on chain, random regular and small-world overlays of 10 to 100 000 nodes,
 * plus behaviour under load changes, spikes and churn, plus the scripted
 * chain A–B–C scenario. Writes bench/results/sim.md.
 *
 *   npm run bench:sim [-- --quick] [-- --workers N] [-- --out FILE]
 *
 * Runs are spread over worker threads (one per core, at most 2 by default).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker, isMainThread, parentPort } from 'node:worker_threads'
import { chainScenario, defaultSimConfig, describeTopology, runSimulation } from '../src/sim/index.js'
import type { SimConfig, SimStats, TopologySpec } from '../src/sim/index.js'

interface Variant { name: string, config: Partial<SimConfig> }

const VARIANTS: Variant[] = [
  { name: 'always local', config: { policy: 'local' } },
  { name: 'random neighbour', config: { policy: 'random' } },
  { name: 'power of two', config: { policy: 'p2c' } },
  { name: 'central oracle', config: { policy: 'oracle' } },
  { name: 'kappa paper', config: { policy: 'kappa', splitHorizon: false, avoidPath: false } },
  { name: 'kappa paper + path', config: { policy: 'kappa', splitHorizon: false, avoidPath: true } },
  { name: 'kappa split horizon', config: { policy: 'kappa', splitHorizon: true, avoidPath: true } }
]

const DYNAMICS_VARIANTS = ['always local', 'power of two', 'central oracle', 'kappa paper', 'kappa split horizon']

const BASE = defaultSimConfig()
const MIN_JOBS = 2000

interface Task {
  key: string
  table: 'main' | 'dynamics'
  scenario: string
  variant: string
  config: SimConfig
  cost: number
}

interface Done { key: string, stats: SimStats, wallMs: number }

function topologies (n: number): TopologySpec[] {
  return [
    { kind: 'random-regular', n, degree: 4 },
    { kind: 'small-world', n, k: 4, beta: 0.1 },
    { kind: 'chain', n }
  ]
}

function meanDegree (t: TopologySpec): number {
  return t.kind === 'chain' ? 2 : t.kind === 'random-regular' ? t.degree : t.kind === 'small-world' ? t.k : 4
}

function estimateCost (config: SimConfig): number {
  const n = config.topology.n
  const periods = config.warmupPeriods + config.measurePeriods
  return config.policy === 'kappa' ? n * periods * (1 + meanDegree(config.topology)) : n * periods * 0.1
}

function plan (sizes: number[]): Task[] {
  const tasks: Task[] = []
  for (const n of sizes) {
    const measurePeriods = Math.max(BASE.measurePeriods, Math.ceil(MIN_JOBS / (BASE.jobs.ratePerNodePerPeriod * n)))
    for (const topology of topologies(n)) {
      for (const v of VARIANTS) {
        const config = defaultSimConfig({ ...v.config, topology, measurePeriods, seed: 1 })
        tasks.push({ key: `main|${n}|${topology.kind}|${v.name}`, table: 'main', scenario: describeTopology(topology), variant: v.name, config, cost: estimateCost(config) })
      }
    }
  }
  // Behaviour under churn and sudden load changes, one mid-sized overlay.
  const n = Math.min(10_000, Math.max(...sizes))
  const topology: TopologySpec = { kind: 'random-regular', n, degree: 4 }
  const none = { changeMeanPeriods: 0, spikeRatePerNodePerPeriod: 0, spikeMeanPeriods: 3 }
  const noChurn = { ratePerNodePerPeriod: 0, downMeanPeriods: 5 }
  const scenarios: Array<[string, Partial<SimConfig>]> = [
    ['static load, no churn', { load: none, churn: noChurn }],
    ['load random walk', { load: { ...none, changeMeanPeriods: 4 }, churn: noChurn }],
    ['+ spikes (5%/node/period)', { load: { changeMeanPeriods: 4, spikeRatePerNodePerPeriod: 0.05, spikeMeanPeriods: 3 }, churn: noChurn }],
    ['+ churn (1%/node/period)', { load: { changeMeanPeriods: 4, spikeRatePerNodePerPeriod: 0.05, spikeMeanPeriods: 3 }, churn: { ratePerNodePerPeriod: 0.01, downMeanPeriods: 5 } }],
    ['+ heavy jobs (4× rate)', { load: { changeMeanPeriods: 4, spikeRatePerNodePerPeriod: 0.05, spikeMeanPeriods: 3 }, churn: { ratePerNodePerPeriod: 0.01, downMeanPeriods: 5 }, jobs: { ratePerNodePerPeriod: 0.2, meanDurationPeriods: 10 } }]
  ]
  for (const [scenario, overrides] of scenarios) {
    for (const v of VARIANTS.filter(v => DYNAMICS_VARIANTS.includes(v.name))) {
      const config = defaultSimConfig({ ...v.config, ...overrides, topology, seed: 2 })
      tasks.push({ key: `dyn|${scenario}|${v.name}`, table: 'dynamics', scenario, variant: v.name, config, cost: estimateCost(config) })
    }
  }
  return tasks
}

// ------------------------------------------------------------------ worker

if (!isMainThread) {
  const port = parentPort
  if (port == null) throw new Error('no parent port')
  port.on('message', (task: Task | null) => {
    if (task == null) { port.close(); return }
    const started = performance.now()
    const stats = runSimulation(task.config, fraction => {
      if (task.config.topology.n >= 50_000) port.postMessage({ progress: task.key, fraction })
    })
    port.postMessage({ key: task.key, stats, wallMs: performance.now() - started } satisfies Done)
  })
} else {
  await main()
}

// ------------------------------------------------------------------ main

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const workersArg = args.indexOf('--workers')
  const outArg = args.indexOf('--out')
  const here = dirname(fileURLToPath(import.meta.url))
  const out = outArg >= 0 ? resolve(args[outArg + 1]) : resolve(here, '../../bench/results/sim.md')
  const sizes = quick ? [10, 100, 1000] : [10, 100, 1000, 10_000, 100_000]
  const workers = workersArg >= 0 ? Number(args[workersArg + 1]) : Math.max(1, Math.min(2, os.availableParallelism()))

  const started = performance.now()
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`
  const tasks = plan(sizes)
  console.log(`bench/sim: ${tasks.length} runs, sizes ${sizes.join(', ')}, ${workers} worker thread(s)`)

  // Longest first, each to the next free worker.
  const queue = [...tasks].sort((a, b) => b.cost - a.cost)
  const results = new Map<string, Done>()
  await Promise.all(Array.from({ length: workers }, async () => {
    const worker = new Worker(fileURLToPath(import.meta.url))
    try {
      for (let task = queue.shift(); task != null; task = queue.shift()) {
        const current = task
        const done = await new Promise<Done>((resolve, reject) => {
          const onMessage = (m: Done | { progress: string, fraction: number }): void => {
            if ('progress' in m) {
              if (Math.round(m.fraction * 20) % 5 === 0 && m.fraction < 1) console.log(`  … ${label(current)}: ${Math.round(m.fraction * 100)}% (${elapsed()})`)
              return
            }
            worker.off('message', onMessage)
            worker.off('error', reject)
            resolve(m)
          }
          worker.on('message', onMessage)
          worker.once('error', reject)
          worker.postMessage(current)
        })
        results.set(done.key, done)
        console.log(`  [${results.size}/${tasks.length}] ${label(current)}: quality ${pct(done.stats.qualityGlobal)} in ${(done.wallMs / 1000).toFixed(1)} s (${elapsed()})`)
      }
    } finally {
      worker.postMessage(null)
      await worker.terminate()
    }
  }))

  const chain = [chainScenario(false), chainScenario(true)]
  const totalSeconds = (performance.now() - started) / 1000
  const markdown = report(tasks, results, chain, { sizes, workers, totalSeconds })
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, markdown)
  console.log('\n' + markdown)
  console.log(`bench/sim: done in ${totalSeconds.toFixed(1)} s, wrote ${out}`)
}

function label (t: Task): string {
  return t.table === 'main' ? `n=${t.config.topology.n} ${t.scenario} / ${t.variant}` : `${t.scenario} / ${t.variant}`
}

function pct (x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–'
}

function num (x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–'
}

function share (s: SimStats, count: number): string {
  return s.jobs > 0 ? pct(count / s.jobs) : '–'
}

function kappaOnly (s: SimStats, text: string): string {
  return s.policy === 'kappa' ? text : '–'
}

function report (tasks: Task[], results: Map<string, Done>, chain: ReturnType<typeof chainScenario>[], run: { sizes: number[], workers: number, totalSeconds: number }): string {
  const cpus = os.cpus()
  const b = BASE
  const lines: string[] = []
  lines.push('# Simulator benchmark (`npm run bench:sim`)', '')
  lines.push(`- Date: ${new Date().toISOString()}`)
  lines.push(`- Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`)
  lines.push(`- Total wall time: ${run.totalSeconds.toFixed(1)} s with ${run.workers} worker thread(s), ${tasks.length} runs`)
  lines.push(`- Algorithm parameters: c = ${b.c}, delay = ${b.delayMs} ms (±${b.tickJitter * 100}% per tick, random phase), neighbour expiry ${b.expiryFactor} × delay, TTL ${b.ttl}, probe deadline ${b.deadlineMs} ms, link latency ${b.latencyMs.min}–${b.latencyMs.max} ms (fixed per link), pending-work accounting ${b.pendingAccounting ? 'on' : 'off'} (ticket ${b.ticketMs / 1000} s)`)
  lines.push(`- Machines (SPEC §4 scale): static score S uniform 60–200; 1/2/4 cores (40/40/20%); 10% short of memory (factor 0.3–1); background processes start uniform in 0..3·cores`)
  lines.push(`- Load: background ±1 process every ${b.load.changeMeanPeriods} periods on average (per node, clipped to 0..3·cores); spikes of 2–4 processes per core at ${b.load.spikeRatePerNodePerPeriod} per node per period lasting ~${b.load.spikeMeanPeriods} periods; churn ${b.churn.ratePerNodePerPeriod} departures per node per period, away ~${b.churn.downMeanPeriods} periods, back with fresh state`)
  lines.push(`- Jobs: ${b.jobs.ratePerNodePerPeriod} per node per period at random live nodes, each one CPU-bound process for ~${b.jobs.meanDurationPeriods} periods (exponential) on the machine chosen`)
  lines.push(`- Runs: ${b.warmupPeriods} warm-up periods, then ${b.measurePeriods} measured periods (more for small overlays, so that each run places ≥ ${MIN_JOBS} jobs); seed 1 (dynamics table: seed 2); the same load, churn and job arrivals for every policy`)
  lines.push('')
  lines.push('Columns: **quality** = mean over jobs of the sysmetric of the machine the job runs on ÷ the best sysmetric of any live node at that moment; **≤8 hops** = the same against the best within TTL hops of the origin (sampled, ≤ 500 jobs per run); **chosen** = mean sysmetric of the machine used; **remote** = jobs migrated; **hops** = mean / max probe hops; **msgs** = control messages (gossip + probes + replies + declines) per node per period; **loops** = probes declined because they came back to a node on their path; **timeouts** = no answer before the deadline (probe lost with a departed node), run locally.')
  lines.push('')
  lines.push('Policies: **always local**; **random neighbour** (migrate to a random neighbour, no information); **power of two** (ask two random neighbours, take the better if it beats local by c); **central oracle** (the global best if it beats local by c; knows everything instantly); **kappa paper** (Algorithm I without split horizon, Algorithm III choosing among all neighbours: loops are detected by the path and declined); **kappa paper + path** (paper gossip, probes skip nodes on their path); **kappa split horizon** (the default: split horizon and path avoidance). Baselines decide at once from true values; Kappa decides from gossip and waits for its probe.')
  lines.push('')

  for (const n of run.sizes) {
    lines.push(`## ${n.toLocaleString('en-US')} nodes`, '')
    lines.push('| overlay | policy | quality | ≤8 hops | chosen | remote | hops | msgs | loops | timeouts | wall |')
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const t of tasks.filter(t => t.table === 'main' && t.config.topology.n === n)) {
      const d = results.get(t.key)
      if (d == null) continue
      const s = d.stats
      lines.push(`| ${t.scenario} | ${t.variant} | ${pct(s.qualityGlobal)} | ${pct(s.qualityKHop)} | ${num(s.meanChosen)} | ${share(s, s.outcomes.remote)} | ${kappaOnly(s, `${num(s.meanHops, 2)} / ${s.maxHops}`)} | ${num(s.messagesPerNodePerPeriod, 2)} | ${kappaOnly(s, share(s, s.outcomes.loop))} | ${share(s, s.outcomes.timeout)} | ${num(d.wallMs / 1000)} s |`)
    }
    lines.push('')
  }

  const dyn = tasks.filter(t => t.table === 'dynamics')
  if (dyn.length > 0) {
    lines.push(`## Churn and sudden load changes (${dyn[0].config.topology.n.toLocaleString('en-US')} nodes, random 4-regular)`, '')
    lines.push('| scenario | policy | quality | ≤8 hops | chosen | remote | local after reply | loops | timeouts | msgs |')
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const t of dyn) {
      const d = results.get(t.key)
      if (d == null) continue
      const s = d.stats
      lines.push(`| ${t.scenario} | ${t.variant} | ${pct(s.qualityGlobal)} | ${pct(s.qualityKHop)} | ${num(s.meanChosen)} | ${share(s, s.outcomes.remote)} | ${share(s, s.outcomes['local-reply'])} | ${kappaOnly(s, share(s, s.outcomes.loop))} | ${share(s, s.outcomes.timeout)} | ${num(s.messagesPerNodePerPeriod, 2)} |`)
    }
    lines.push('')
  }

  lines.push('## Chain A–B–C, metrics pinned 37 / 60 / 148, c = 15 (scripted, delay 1 s)', '')
  lines.push('| split horizon | B\'s dismetric at A | first probe | after C → 20: probes stop reaching C | jobs settle on B | probes that still reached C | jobs placed on C | loops | B killed: A drops it after |')
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|')
  for (const r of chain) {
    const f = r.firstJob
    lines.push(`| ${r.splitHorizon ? 'on' : 'off (paper)'} | ${r.dismetricOfBAtA} | path [${f.reply?.path.join(', ') ?? ''}] → ${f.reply?.target ?? '?'} (${f.reply?.sysmetric ?? '?'}), ${f.outcome ?? '?'} | ${num(r.repin.delaysUntilNoProbeToC)} delays | ${num(r.repin.delaysUntilB)} delays | ${r.repin.probesToC} / ${r.repin.jobs.length} | ${r.repin.placedOnC} | ${r.repin.loops} | ${num(r.kill.delaysToDrop, 2)} delays |`)
  }
  lines.push('')
  return lines.join('\n')
}
