/**
 * bench/makespan: three namespaced hosts with CPU quotas 1.0 (A), 0.5 (B)
 * and 0.25 (C), all paired; 30 equal CPU-bound jobs submitted from A at
 * once. Makespan with kappa (the daemon's defaults; the paper's hop cost 15;
 * without pending-work accounting) against the ideal (total work / total
 * capacity), all-local and round-robin. Every node runs with the daemon's
 * defaults (gossip period included) unless a row says otherwise. Writes an
 * SVG bar chart beside the table.
 */
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { writeFile, mkdir } from 'node:fs/promises'
import { DEFAULT_C, DEFAULT_DELAY_MS, PAPER_C } from '../src/balance/index.js'
import { createNamespaceCluster, type NamespaceCluster, type NamespaceNode } from '../src/cluster/index.js'
import { REPO } from '../test/helpers/node.js'
import { PAPER_ARGS, PROGRAMS, fmt, machine, requireRoot, settle, timed, viaKappa } from './lib/paper.js'
import { percentile } from './lib/stats.js'

const JOBS = Number(process.env.JOBS ?? 30)
/** bursts of the defaults' row; the table gives their median */
const BURSTS = Number(process.env.BURSTS ?? 3)
// A is the user's machine, where the 30 \`kappa-node run\` clients start (~35 ms of CPU each, so
// about a second of CPU inside A's quota); B and C are the smaller machines it can use
const QUOTAS = { a: 1, b: 0.5, c: 0.25 }
const CAPACITY = QUOTAS.a + QUOTAS.b + QUOTAS.c
const SPIN = join(PROGRAMS, 'spin.sh')
const DEFAULTS = `kappa (defaults: hop cost ${DEFAULT_C})`
const NO_ACCOUNTING = 'kappa (defaults, no pending-work accounting)'
const PAPER = `kappa (paper: hop cost ${PAPER_C})`

async function triangle (args: string[], log: (l: string) => void): Promise<NamespaceCluster> {
  const cluster = await createNamespaceCluster({
    // the job limit is a safety valve, not a scheduler: let every node queue the whole burst
    nodes: Object.entries(QUOTAS).map(([name, cpus]) => ({ name, cpus, args: ['--max-jobs', String(JOBS), ...args] })),
    links: [['a', 'b'], ['b', 'c'], ['a', 'c']],
    log
  })
  // let every node take a first metric sample and gossip it
  await settle('metrics on every node', async () => {
    for (const n of cluster.nodes) {
      const s = await n.json(['status'])
      if (s.sysmetric == null || s.neighbours.some((x: any) => x.live !== true)) return false
    }
    return true
  })
  return cluster
}

/** Run `argvFor(i)` for i < JOBS at once from A; makespan and where each job ran. */
async function burst (cluster: NamespaceCluster, argvFor: (i: number, a: NamespaceNode) => string[]): Promise<{ seconds: number, where: Record<string, number> }> {
  const a = cluster.node('a')
  const where: Record<string, number> = { A: 0, B: 0, C: 0 }
  const reasons = new Map<string, number>()
  let counting = true
  const start = process.hrtime.bigint()
  a.onEvent((e) => {
    if (!counting || e.type !== 'job-placed') return
    where[e.where === 'remote' ? (cluster.nodes.find(n => n.id === e.target)?.name.toUpperCase() ?? '?') : 'A']++
    if (e.where === 'local') reasons.set(String(e.reason), (reasons.get(String(e.reason)) ?? 0) + 1)
    if (process.env.KAPPA_DEBUG != null) process.stderr.write(`    +${Math.round(Number(process.hrtime.bigint() - start) / 1e6)} ms ${e.where} ${cluster.nodes.find(n => n.id === e.target)?.name ?? ''} reply ${fmt(e.sysmetric)} own ${fmt(e.own)}${e.where === 'local' ? ` (${String(e.reason)})` : ''}\n`)
  })
  const results = await Promise.all(Array.from({ length: JOBS }, async (_, i) => await a.exec(argvFor(i, a), { timeoutMs: 900_000 })))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  counting = false
  if (reasons.size > 0 && process.env.KAPPA_DEBUG != null) process.stderr.write(`  local because: ${JSON.stringify(Object.fromEntries(reasons))}\n`)
  const failed = results.filter(r => r.code !== 0)
  if (failed.length > 0) throw new Error(`${failed.length} jobs failed: ${failed[0].stderr}`)
  return { seconds, where }
}

export interface MakespanResult { markdown: string, svg: string, kappaRatio: number }

export async function runMakespan (log: (line: string) => void = (l) => { process.stderr.write(`${l}\n`) }): Promise<MakespanResult> {
  const rows: Array<{ name: string, seconds: number, where?: Record<string, number> }> = []
  let cluster: NamespaceCluster | undefined
  let work = 0
  let steps = 0
  let kappaBursts: number[] = []
  try {
    log(`makespan: A ${QUOTAS.a}, B ${QUOTAS.b}, C ${QUOTAS.c} CPUs, all paired`)
    cluster = await triangle([], log)
    // calibrate: one job alone on the node with a whole CPU takes about a second
    const whole = cluster.node(Object.entries(QUOTAS).find(([, q]) => q === 1)?.[0] ?? 'a')
    steps = 4_000_000
    const probe = await timed(whole, [SPIN, String(steps)])
    steps = Math.round(steps / probe.seconds)
    // the median of three: one timing on a shared VM caught a fast or a slow phase of the host, and
    // moved the ideal, and with it the ratio, by a quarter between two runs of the same code
    const timings: number[] = []
    for (let i = 0; i < 3; i++) timings.push((await timed(whole, [SPIN, String(steps)])).seconds)
    work = percentile(timings, 0.5)
    log(`  one job = ${fmt(work, 2)} s of a whole CPU (${steps} steps; timings ${timings.map(t => fmt(t, 2)).join(', ')}); ${JOBS} jobs`)
    const job = [SPIN, String(steps)]

    // the row the goal is about, as the median of BURSTS bursts: one burst on a shared VM
    // took 17.3 s, the next of the same code 23.0 s
    const bursts: Array<{ seconds: number, where: Record<string, number> }> = []
    for (let i = 0; i < BURSTS; i++) {
      if (i > 0) await new Promise(resolve => setTimeout(resolve, 12_000)) // let the metrics forget the burst
      const r = await burst(cluster, (_, a) => viaKappa(a, job))
      bursts.push(r)
      log(`  ${DEFAULTS}, burst ${i + 1}/${BURSTS}: ${fmt(r.seconds)} s ${JSON.stringify(r.where)}`)
    }
    const kappa0 = [...bursts].sort((x, y) => x.seconds - y.seconds)[(bursts.length - 1) >> 1]
    kappaBursts = bursts.map(b => b.seconds)
    rows.push({ name: DEFAULTS, ...kappa0 })
    if (process.env.MAKESPAN_ONLY === 'kappa') return { markdown: '', svg: '', kappaRatio: kappa0.seconds / (JOBS * work / CAPACITY) }
    await new Promise(resolve => setTimeout(resolve, 12_000)) // let the metrics forget the burst
    const rr = await burst(cluster, (i, a) => viaKappa(a, job, i % 3 === 0 ? ['--local'] : ['--peer', i % 3 === 1 ? 'b' : 'c']))
    // `--local` runs skip the daemon, so they are not in its placement log: the split is by construction
    rows.push({ name: 'round-robin', seconds: rr.seconds, where: { A: Math.ceil(JOBS / 3), B: Math.ceil((JOBS - 1) / 3), C: Math.floor(JOBS / 3) } })
    log(`  round-robin: ${fmt(rr.seconds)} s`)
    const local = await burst(cluster, () => job)
    rows.push({ name: 'all local', seconds: local.seconds, where: { A: JOBS, B: 0, C: 0 } })
    log(`  all local: ${fmt(local.seconds)} s`)
  } finally {
    await cluster?.stop()
    cluster = undefined
  }
  for (const [name, args] of [[NO_ACCOUNTING, ['--no-pending-accounting']], [PAPER, PAPER_ARGS]] as const) {
    try {
      cluster = await triangle([...args], log)
      const r = await burst(cluster, (_, a) => viaKappa(a, [SPIN, String(steps)]))
      rows.push({ name, ...r })
      log(`  ${name}: ${fmt(r.seconds)} s ${JSON.stringify(r.where)}`)
    } finally {
      await cluster?.stop()
      cluster = undefined
    }
  }
  const ideal = JOBS * work / CAPACITY
  const order = [DEFAULTS, NO_ACCOUNTING, PAPER, 'round-robin', 'all local']
  rows.sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name))
  const kappaRatio = (rows.find(r => r.name === DEFAULTS)?.seconds ?? NaN) / ideal
  const markdown = [
    '## Makespan — 30 equal CPU-bound jobs submitted from A at once',
    '',
    `Hosts A, B, C with CPU quotas ${QUOTAS.a} / ${QUOTAS.b} / ${QUOTAS.c} (total ${CAPACITY}), all paired, every daemon with its default settings (gossip every ${DEFAULT_DELAY_MS / 1000} s, hop cost ${DEFAULT_C}) unless the row says otherwise; one job = ${fmt(work, 2)} s of a whole CPU; ideal = total work / total capacity = ${JOBS} × ${fmt(work, 2)} / ${CAPACITY} = ${fmt(ideal, 1)} s. ${machine()}.`,
    '',
    '| strategy | makespan (s) | × ideal | jobs on A / B / C |',
    '| --- | ---: | ---: | --- |',
    `| ideal | ${fmt(ideal)} | 1.00 | ${fmt(JOBS * QUOTAS.a / CAPACITY, 1)} / ${fmt(JOBS * QUOTAS.b / CAPACITY, 1)} / ${fmt(JOBS * QUOTAS.c / CAPACITY, 1)} |`,
    ...rows.map(r => `| ${r.name} | ${fmt(r.seconds)} | ${fmt(r.seconds / ideal, 2)} | ${r.where == null ? '-' : `${r.where.A} / ${r.where.B} / ${r.where.C}`} |`),
    '',
    `The defaults' row is the median of ${kappaBursts.length} bursts: ${kappaBursts.map(t => `${fmt(t)} s (${fmt(t / ideal, 2)}×)`).join(', ')}; every other row is one burst.`,
    '',
    'The defaults are what measures best here: hop cost 0 is the right setting for jobs of seconds on a LAN, where moving a job costs milliseconds; the paper\'s constant 15 (in metric units) outweighs the difference between two loaded machines and keeps jobs at home. The burst is placed one job at a time, each decision reading the runnable processes of that moment; pending-work accounting counts each promised job (a ticket issued, a local job the client has not started yet) until a reading shows it running, so the next decisions see it once. Without it the decisions in flight do not see each other, and the jobs pile on whichever node looked best when the burst began. The gap to the ideal is the burst\'s start (30 `kappa-node run` calls inside A\'s quota, placed one at a time) and the jobs slowing each other on the 2 vCPUs; the first burst after the cluster\'s start is the slowest. Round-robin ignores the hosts\' speeds; all-local uses only A.',
    '',
    '![makespan per strategy](results/makespan.svg)',
    ''
  ].join('\n')
  return { markdown, svg: barChart([{ name: 'ideal', seconds: ideal }, ...rows], ideal), kappaRatio }
}

/** A small SVG bar chart: makespan per strategy, with the ideal as a line. */
function barChart (rows: Array<{ name: string, seconds: number }>, ideal: number): string {
  const width = 640
  const barH = 26
  const left = 300
  const max = Math.max(...rows.map(r => r.seconds)) * 1.1
  const x = (s: number): number => left + (width - left - 20) * s / max
  const bars = rows.map((r, i) => {
    const y = 30 + i * (barH + 8)
    const color = r.name.startsWith('kappa') ? '#2b7bb9' : r.name === 'ideal' ? '#5aa05a' : '#999'
    return `<text x="${left - 8}" y="${y + 18}" text-anchor="end" font-size="13">${r.name}</text>` +
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.seconds) - left).toFixed(1)}" height="${barH}" fill="${color}"/>` +
      `<text x="${(x(r.seconds) + 4).toFixed(1)}" y="${y + 18}" font-size="12">${r.seconds.toFixed(1)} s</text>`
  }).join('\n')
  const height = 30 + rows.length * (barH + 8) + 20
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<text x="10" y="18" font-size="14" font-weight="bold">Makespan of ${JOBS} jobs from A (lower is better)</text>`,
    bars,
    `<line x1="${x(ideal).toFixed(1)}" y1="26" x2="${x(ideal).toFixed(1)}" y2="${height - 12}" stroke="#5aa05a" stroke-dasharray="4 3"/>`,
    '</svg>',
    ''
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  requireRoot('bench/makespan')
  runMakespan().then(async (r) => {
    process.stdout.write(r.markdown)
    if (r.svg === '') return // MAKESPAN_ONLY=kappa: no chart to write
    await mkdir(join(REPO, 'bench/results'), { recursive: true })
    await writeFile(join(REPO, 'bench/results/makespan.svg'), r.svg)
  }, (err) => { console.error(err); process.exitCode = 1 })
}
