#!/usr/bin/env node
/**
 * `npm run demo`: the first thing to run after `npm install`. No root, no
 * network beyond 127.0.0.1: three real nodes (temp homes, removed at the
 * end) paired as a chain A–B–C, A pinned as busy and C as idle, then one
 * CPU-bound program run from A through kappa and the same program run
 * locally, with where it ran and how long each took; then kappa's own cost
 * per job, measured (a job that does nothing, through kappa and directly).
 * Every command it suggests at the end works as printed.
 */
import { DEFAULT_MIN_RELAY_COST } from '../balance/index.js'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import { errorMessage } from '../errors.js'
import { DAEMON_NODE_FLAGS } from '../constants.js'
import { debugLogger } from '../debug.js'
import { BIN, DAEMON_MAIN, MAIN } from './entry.js'

const debug = debugLogger('cluster:demo')

/** the paper's Table II scale: a loaded machine ≈ 37–45, an idle one ≈ 140–150 */
const NODES = [
  { name: 'A', metric: 37, role: 'busy' },
  { name: 'B', metric: 60, role: 'so-so' },
  { name: 'C', metric: 148, role: 'idle' }
] as const
const GOSSIP_MS = 200
/** about a second of one core on a 2020s machine; the shell is small, so it travels fast */
const LOOPS = 700_000
/** runs of the do-nothing job that measure kappa's own cost (the median is shown) */
const COST_RUNS = 3
const JOB = ['sh', '-c', `i=0; while [ $i -lt ${LOOPS} ]; do i=$((i+1)); done; echo "counted to $i"`]

interface DemoNode { name: string, home: string, id: string, proc: ChildProcess }
interface Outcome { code: number | null, stdout: string, stderr: string, seconds: number }

const processes = new Set<ChildProcess>()
let root: string | undefined

/** SIGTERM, and SIGKILL for one still there 3 s later. */
async function stop (procs: Iterable<ChildProcess>): Promise<void> {
  await Promise.all([...procs].map(async p => {
    if (p.exitCode != null || p.signalCode != null) return
    p.kill('SIGTERM')
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { p.kill('SIGKILL'); resolve() }, 3000)
      p.once('exit', () => { clearTimeout(timer); resolve() })
    })
  }))
}

async function cleanup (): Promise<void> {
  await stop(processes)
  if (root != null) await rm(root, { recursive: true, force: true })
  root = undefined
}

function cli (args: string[], opts: { cwd?: string } = {}): Promise<Outcome> {
  return timed([process.execPath, MAIN, ...args], opts.cwd)
}

async function json (node: DemoNode, args: string[]): Promise<any> {
  const r = await cli([args[0], '--home', node.home, ...args.slice(1), '--json'])
  if (r.code !== 0) throw new Error(`kappa-node ${args[0]} on ${node.name} failed: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout)
}

async function startNode (name: string, metric: number, extra: string[] = []): Promise<DemoNode> {
  const home = join(root as string, name.toLowerCase())
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, 'start', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--alias', name, '--no-mdns', '--no-http', '--json',
    '--delay', String(GOSSIP_MS), '--metric-override', String(metric), ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAPPA_HOME: undefined } })
  processes.add(proc)
  let stderr = ''
  proc.stderr.on('data', (d) => { stderr += String(d) })
  const id = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`node ${name} did not start within 30 s: ${stderr.trim()}`)) }, 30_000)
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${name} exited (${String(code)}): ${stderr.trim()}`)) })
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const e = JSON.parse(line)
        if (e.type === 'ready') { clearTimeout(timer); resolve(e.id) }
      } catch (err) { debug('a line of a node\'s output that is not JSON: %s', errorMessage(err)) }
    })
  })
  return { name, home, id, proc }
}

async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Jobs A sent elsewhere, newest first, as `kappa-node jobs` tells them. */
async function sentJobs (a: DemoNode): Promise<any[]> {
  return (await json(a, ['jobs'])).recent.filter((j: any) => j.direction === 'out')
}

function median (values: number[]): number {
  const s = [...values].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

/** how to call kappa-node in the suggestions: by name when `npm link` put it on PATH, else by its path */
function kappaCommand (): string {
  const found = spawnSync('sh', ['-c', 'command -v kappa-node'], { encoding: 'utf8' })
  return found.status === 0 && found.stdout.trim() !== '' ? 'kappa-node' : BIN
}

const short = (id: string): string => `${id.slice(0, 8)}…${id.slice(-6)}`
const say = (line = ''): void => { process.stdout.write(line + '\n') }

async function demo (): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'kappa-demo-'))
  say('kappa-node demo: three nodes on 127.0.0.1 (temporary homes), paired as a chain A–B–C')
  say()
  let nodes = await Promise.all(NODES.map(async n => await startNode(n.name, n.metric)))
  // a node that cannot sandbox refuses jobs for others (no bubblewrap, no user namespaces): the demo's
  // three are all yours, on 127.0.0.1 only, so they run its job unsandboxed rather than not at all
  const sandbox = (await json(nodes[2], ['status'])).jobSandbox
  if (sandbox?.mode === 'refused') {
    say(`  (${String(sandbox.refusal)}: the demo's nodes run its job unsandboxed; \`kappa-node start\` refuses jobs for others until that is fixed)`)
    await stop(nodes.map(n => n.proc))
    nodes = await Promise.all(NODES.map(async n => await startNode(n.name, n.metric, ['--no-sandbox'])))
  }
  const [a, b, c] = nodes
  // pairing the way users do it: an invite line from one node, `pair` on the other
  for (const [x, y] of [[a, b], [c, b]]) {
    const { invite } = await json(y, ['invite'])
    await json(x, ['pair', invite])
  }
  for (const [i, n] of NODES.entries()) say(`  ${n.name}  ${short(nodes[i].id)}  ${n.role.padEnd(6)} sysmetric pinned to ${n.metric}`)
  say('  (one machine cannot make one node busy and another idle, so the metrics are pinned, as in the paper\'s tables)')
  say()

  // A learns C's value through B: B passes it on less the relay cost max(c, 5), A rates B at that less c
  let relay = DEFAULT_MIN_RELAY_COST
  const seen = await until('A to hear C\'s value through B', async () => {
    const status = await json(a, ['status'])
    relay = Math.max(status.gossip.c, DEFAULT_MIN_RELAY_COST)
    const viaB = status.neighbours.find((n: any) => n.id === b.id)
    return viaB?.live === true && viaB.dismetric === NODES[2].metric - relay - status.gossip.c ? viaB : undefined
  })
  say(`A's only neighbour is B; B advertises ${seen.advertised as number} (C's ${NODES[2].metric} − ${relay}), so A rates B at ${seen.dismetric as number} > its own ${NODES[0].metric}.`)
  // B must hear C too before a probe can be forwarded there
  const probe = await until('a probe from A to reach C', async () => {
    const p = await json(a, ['probe'])
    return p.local === false && p.target.id === c.id ? p : undefined
  })
  const names = new Map(nodes.map(n => [n.id, n.name]))
  say(`A probe from A walks ${probe.path.map((id: string) => names.get(id) ?? short(id)).join(' → ')}; ${names.get(probe.target.id) ?? short(probe.target.id)} answers with sysmetric ${probe.target.sysmetric as number}.`)
  say()

  // a workspace of its own: the nodes' homes beside it are not the job's business
  const cwd = join(root as string, 'work')
  await mkdir(cwd)
  await writeFile(join(cwd, 'README.txt'), 'the job\'s workspace: what it sees on the node it runs on\n')
  say(`The job: ${JOB.slice(0, 2).join(' ')} '${JOB[2]}'`)
  const runs: Array<{ label: string, outcome: Outcome, where: string }> = []
  for (const label of ['kappa-node run, from A (first time: its workspace travels)', 'kappa-node run, from A (again: the target has it all)']) {
    const sentBefore = (await sentJobs(a)).length
    const outcome = await cli(['run', '--home', a.home, '--', ...JOB], { cwd })
    let where = 'A (locally)'
    const sent = await sentJobs(a)
    if (sent.length > sentBefore) {
      const job = sent[0]
      const target = nodes.find(n => n.id === job.target)
      const bytes = Number(job.bytesSent.executable) + Number(job.bytesSent.workspace)
      where = `${target?.name ?? short(job.target)} (${short(job.target)}), ${job.cached === true || bytes === 0 ? 'nothing sent (it had it all)' : `${Math.round(bytes / 1024)} KiB sent`}`
    }
    runs.push({ label, outcome, where })
  }
  runs.push({ label: 'the same program, locally (no kappa)', outcome: await timed(JOB, cwd), where: 'this machine, directly' })
  say()
  for (const r of runs) {
    const status = r.outcome.code === 0 ? r.outcome.stdout.trim() : `exit ${String(r.outcome.code)}: ${r.outcome.stderr.trim()}`
    say(`  ${r.label}`)
    say(`      ran on ${r.where}: ${r.outcome.seconds.toFixed(2)} s wall  (${status})`)
  }
  say()
  say('All three nodes share this machine\'s CPUs, so C cannot be faster here than running directly;')
  say('on real machines C would be an idle or a faster one.')

  // kappa's own cost per job, measured rather than taken from the difference of two noisy runs
  const through: number[] = []
  const direct: number[] = []
  for (let i = 0; i < COST_RUNS; i++) {
    const r = await cli(['run', '--home', a.home, '--remote', '--', 'true'], { cwd })
    if (r.code !== 0) throw new Error(`kappa-node run -- true failed: ${r.stderr.trim()}`)
    through.push(r.seconds)
    direct.push((await cli(['--version'], { cwd })).seconds)
  }
  say(`kappa's own cost per job, measured: a job that does nothing (true) takes ${median(through).toFixed(2)} s from A on another node,`)
  say(`of which ${median(direct).toFixed(2)} s is starting the kappa-node client at all (median of ${COST_RUNS} runs each).`)
  say()
  const kappa = kappaCommand()
  const next: Array<[string, string]> = []
  if (kappa !== 'kappa-node') next.push(['npm link', 'puts kappa-node on your PATH (then call it by name)'])
  next.push(
    [`${kappa} start`, 'a node of your own, in the foreground (prints an invite line)'],
    [`${kappa} run -- sh -c 'echo hello from $(hostname)'`, 'a job placed by kappa (it runs here until you pair a machine)'],
    [`${kappa} jobs`, 'where your jobs ran, how long, how they ended'],
    ['sudo npm run cluster', 'three nodes with their own IPs and CPU quotas (network namespaces)']
  )
  if (spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).status === 0) next.push(['npm run keys && docker compose up', 'the same cluster in containers'])
  say('Next (each works as printed):')
  for (const [command, what] of next) say(`  ${command}\n      ${what}`)
}

function timed (argv: string[], cwd?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    const proc = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAPPA_HOME: undefined } })
    processes.add(proc)
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d) => { stdout += String(d) })
    proc.stderr.on('data', (d) => { stderr += String(d) })
    proc.on('close', (code) => {
      processes.delete(proc)
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 })
    })
  })
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // `npm run` forwards the Ctrl-C the terminal already sent: clean up once
    if (stopping) return
    stopping = true
    say(`\n${signal}: stopping the demo nodes…`)
    void cleanup().finally(() => { process.exit(130) })
  })
}
process.stdout.on('error', () => {})
process.once('exit', () => {
  // last resort (an uncaught throw): no node may outlive the demo
  for (const p of processes) if (p.exitCode == null && p.signalCode == null) p.kill('SIGKILL')
  if (root != null) rmSync(root, { recursive: true, force: true })
})

try {
  await demo()
} catch (err) {
  process.stderr.write(`demo: ${errorMessage(err)}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
}
