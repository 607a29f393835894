/**
 * The namespace cluster behind `createNamespaceCluster` (see index.ts): the
 * network (netns.ts), the CPU quotas (cgroup.ts), one daemon per node started
 * through an "enter" script that joins the node's cgroup and namespace, the
 * pairing, and a teardown that also runs when the owning process is
 * interrupted or exits.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { accessSync, constants, existsSync, rmSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createRunCgroups, detectCgroups, type CgroupLayout, type NodeCgroup, type RunCgroups } from './cgroup.js'
import { createNetwork, ip, listNamespaces, nodeIp, type ClusterNetwork } from './netns.js'
import { checkTopology, ipAddresses, writeClusterKeys } from './keys.js'
import { UserError } from '../errors.js'
import { DEFAULT_PORT, DAEMON_NODE_FLAGS } from '../constants.js'
import { WORKSPACE_MARKER } from '../workspace/constants.js'
import type { ExecOptions, ExecResult, NamespaceCluster, NamespaceClusterInit, NamespaceNode } from './index.js'
import { debugLogger, logged } from '../debug.js'
import { DAEMON_MAIN, MAIN } from './entry.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('cluster')


const START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 5_000
const RESERVED_NAMES = new Set(['hub'])

let runsInThisProcess = 0
const liveClusters = new Set<NamespaceClusterImpl>()

/** Why a namespace cluster cannot run here, or undefined when it can. */
export async function namespaceSupport (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and cgroups)'
  try {
    await ip(['netns', 'list'])
  } catch (err: any) {
    return `ip netns is unavailable (${err.message as string}); install iproute2`
  }
  try {
    // a throwaway namespace: root in a container without CAP_SYS_ADMIN cannot make one
    execFileSync('unshare', ['--net', 'true'], { stdio: 'ignore' })
  } catch {
    return 'cannot create network namespaces here (unshare --net failed: a container without CAP_SYS_ADMIN?)'
  }
  try {
    execFileSync('nsenter', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'nsenter is unavailable; install util-linux'
  }
  const layout = detectCgroups()
  if (layout == null) return 'no cgroup cpu controller (v1 cpu.cfs_quota_us or v2 cpu.max) is mounted'
  const root = layout.version === 2 ? layout.root : layout.cpu
  try {
    accessSync(root, constants.W_OK)
  } catch (err: any) {
    return `cannot create cgroups under ${root} (${err.code as string})`
  }
  return undefined
}

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

/**
 * The enter script: join the cgroup first (children inherit it), then the
 * network namespace with nsenter. Not `ip netns exec`: that remounts /sys,
 * which hides /sys/fs/cgroup from the node's metric code. Commands join the
 * node's `user` part; with KAPPA_CLUSTER_PART=daemon, its `daemon` part.
 */
function enterScript (name: string, run: string, cgroup: NodeCgroup, nsPath: string): string {
  return [
    '#!/bin/sh',
    `# Runs a command (default: a shell) as kappa cluster ${run} node ${name}: in its`,
    `# cgroup (${cgroup.cpus} CPU) and its network namespace. Made by createNamespaceCluster.`,
    `files=${quote(cgroup.procsFiles.join(' '))}`,
    `[ "$KAPPA_CLUSTER_PART" = daemon ] && files=${quote(cgroup.daemonProcsFiles.join(' '))}`,
    'unset KAPPA_CLUSTER_PART',
    'for procs in $files; do',
    `  echo $$ > "$procs" || { echo "cannot join $procs: is cluster ${run} still up?" >&2; exit 125; }`,
    'done',
    '[ $# -gt 0 ] || set -- "${SHELL:-/bin/sh}"',
    `exec nsenter --net=${quote(nsPath)} -- "$@"`,
    ''
  ].join('\n')
}

function collect (proc: ChildProcess, opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = ''
    let stderr = ''
    proc.stdout?.on('data', (d) => { stdout += String(d) })
    proc.stderr?.on('data', (d) => { stderr += String(d) })
    proc.stdin?.on('error', () => {})
    proc.stdin?.end(opts.stdin)
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

async function exited (proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (proc.exitCode != null || proc.signalCode != null) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, timeoutMs)
    proc.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

function killGroup (proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid == null || proc.exitCode != null || proc.signalCode != null) return
  try { process.kill(-proc.pid, signal) } catch {
    try { proc.kill(signal) } catch (err) { debug('signalling a node: %s', errorMessage(err)) }
  }
}

class ClusterNode implements NamespaceNode {
  id = ''
  addrs: string[] = []
  daemon!: ChildProcess
  readonly events: any[] = []
  private readonly waiters = new Set<{ pred: (e: any) => boolean, resolve: (e: any) => void }>()
  private readonly listeners = new Set<(e: any) => void>()
  private stderrTail = ''

  constructor (
    private readonly cluster: NamespaceClusterImpl,
    readonly name: string,
    readonly ip: string,
    readonly home: string,
    readonly ns: string,
    readonly veth: string,
    readonly cgroup: NodeCgroup,
    readonly enter: string,
    readonly workDir: string
  ) {}

  startDaemon (args: string[]): void {
    this.daemon = spawn(this.enter, [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, 'start', '--home', this.home, '--json', ...args], {
      // its own process group: a Ctrl-C at the terminal reaches only the owner, which then stops nodes in order
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAPPA_HOME: undefined, KAPPA_CLUSTER_PART: 'daemon' }
    })
    this.cluster.track(this.daemon)
    this.daemon.stderr?.on('data', (d) => { this.stderrTail = (this.stderrTail + String(d)).slice(-2000) })
    createInterface({ input: this.daemon.stdout! }).on('line', (line) => {
      let e: any
      try { e = JSON.parse(line) } catch { return }
      this.events.push(e)
      for (const w of this.waiters) if (w.pred(e)) { this.waiters.delete(w); w.resolve(e) }
      for (const listener of this.listeners) listener(e)
    })
  }

  onEvent (listener: (e: any) => void): void {
    this.listeners.add(listener)
  }

  async waitForEvent (pred: (e: any) => boolean, timeoutMs = 10_000): Promise<any> {
    const seen = this.events.find(pred)
    if (seen != null) return seen
    return await new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: any) => { clearTimeout(timer); resolve(e) } }
      const timer = setTimeout(() => {
        this.waiters.delete(w)
        reject(new Error(`node ${this.name}: no matching event within ${timeoutMs} ms (stderr: ${this.stderrTail.trim()})`))
      }, timeoutMs)
      this.waiters.add(w)
      this.daemon.once('exit', (code) => {
        if (this.waiters.delete(w)) {
          clearTimeout(timer)
          reject(new Error(`node ${this.name}: daemon exited (${String(code)}): ${this.stderrTail.trim()}`))
        }
      })
    })
  }

  spawn (argv: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const proc = spawn(this.enter, argv, { cwd: opts.cwd ?? this.workDir, env: { ...process.env, KAPPA_HOME: undefined, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    this.cluster.track(proc)
    return proc
  }

  async exec (argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return await collect(this.spawn(argv, opts), opts)
  }

  async cli (args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (args.length === 0) throw new UserError('cli() needs a kappa-node subcommand')
    // --home right after the subcommand: anything after `run … --` belongs to the program
    return await this.exec([process.execPath, MAIN, args[0], '--home', this.home, ...args.slice(1)], opts)
  }

  async json (args: string[]): Promise<any> {
    const r = await this.cli([...args, '--json'])
    if (r.code !== 0) throw new Error(`node ${this.name}: kappa-node ${args.join(' ')} exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`)
    return JSON.parse(r.stdout)
  }

  async cutLink (): Promise<void> { await this.cluster.network.cut(this.name) }
  async restoreLink (): Promise<void> { await this.cluster.network.restore(this.name) }
}

export class NamespaceClusterImpl implements NamespaceCluster {
  readonly nodes: ClusterNode[] = []
  network!: ClusterNetwork
  private cgroupsOfRun?: RunCgroups
  private readonly processes = new Set<ChildProcess>()
  private stopping?: Promise<void>

  private constructor (readonly run: string, readonly dir: string, private readonly init: NamespaceClusterInit) {}

  get hub (): string { return this.network.hub }
  get bridge (): string { return this.network.bridge }
  get subnet (): string { return this.network.subnet }
  get cgroups (): { layout: CgroupLayout, path: string } {
    const c = this.cgroupsOfRun as RunCgroups
    return { layout: c.layout, path: c.path }
  }

  node (name: string): ClusterNode {
    const node = this.nodes.find(n => n.name === name)
    if (node == null) throw new UserError(`no node '${name}' in cluster ${this.run} (nodes: ${this.nodes.map(n => n.name).join(', ')})`)
    return node
  }

  track (proc: ChildProcess): void {
    this.processes.add(proc)
    proc.once('exit', () => { this.processes.delete(proc) })
  }

  static async create (init: NamespaceClusterInit): Promise<NamespaceClusterImpl> {
    const names = init.nodes.map(n => n.name)
    checkTopology(names, init.links)
    for (const name of names) if (RESERVED_NAMES.has(name)) throw new UserError(`node name '${name}' is reserved`)
    const why = await namespaceSupport()
    if (why != null) throw new UserError(`cannot build a namespace cluster: ${why}`)

    const counter = runsInThisProcess++
    const run = counter === 0 ? String(process.pid) : `${process.pid}-${counter}`
    const dir = await mkdtemp(join(tmpdir(), `kappa-cluster-${run}-`))
    const cluster = new NamespaceClusterImpl(run, dir, init)
    registerCleanup(cluster)
    try {
      await cluster.bringUp()
    } catch (err) {
      await cluster.stop().catch(logged(debug, 'stopping a cluster that failed to start'))
      throw err
    }
    return cluster
  }

  private log (line: string): void {
    this.init.log?.(line)
  }

  /**
   * The static score S is the hardware's speed (the paper benchmarks at
   * boot). Measured inside a node's CPU quota it would count the quota a
   * second time (the CPU share already does): benchmark once here, outside
   * the quotas, and give every home that cached score.
   */
  private async seedBenchmark (homes: string): Promise<void> {
    if (this.init.nodes.every(n => n.metricOverride != null)) return
    const scratch = join(this.dir, 'benchmark-home')
    const r = spawnSync(process.execPath, [MAIN, 'metric', '--home', scratch, '--window', '100', '--json'], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`benchmark before start-up failed: ${r.stderr.trim()}`)
    const cached = await readFile(join(scratch, 'benchmark.json'))
    for (const spec of this.init.nodes) {
      const target = join(homes, spec.name, 'benchmark.json')
      if (!existsSync(target)) await writeFile(target, cached, { mode: 0o600 })
    }
    this.log(`benchmark: S = ${Number(JSON.parse(r.stdout).static).toFixed(1)} for every node (measured outside the quotas)`)
  }

  private async bringUp (): Promise<void> {
    const init = this.init
    const port = init.port ?? DEFAULT_PORT
    const names = init.nodes.map(n => n.name)
    const prefix = init.prefix ?? `10.47.${(process.pid + runsInThisProcess) % 256}`
    if (!/^10\.\d{1,3}\.\d{1,3}$/.test(prefix) || prefix.split('.').some(o => Number(o) > 255)) throw new UserError(`bad prefix '${prefix}': three octets inside 10.0.0.0/8, e.g. 10.47.3`)

    this.log(`cgroups: kappa-${this.run}/<node>`)
    this.cgroupsOfRun = await createRunCgroups(`kappa-${this.run}`, undefined, this.init.cpuPeriodUs)
    this.log(`network: namespaces kappa-${this.run}-{hub,${names.join(',')}}, ${prefix}.0/24`)
    this.network = await createNetwork({ run: this.run, names, prefix })

    const homes = init.keysDir ?? join(this.dir, 'homes')
    await mkdir(join(this.dir, 'bin'), { recursive: true })
    const pairing = init.pairing ?? 'invite'
    if (pairing === 'generated') {
      const ips = Object.fromEntries(names.map((name, i) => [name, nodeIp(prefix, i)]))
      await writeClusterKeys({ dir: homes, names, links: init.links, addresses: ipAddresses(ips, port) })
    }
    for (const spec of init.nodes) {
      const net = this.network.nodes.find(n => n.name === spec.name)!
      const cgroup = await this.cgroupsOfRun.node(spec.name, spec.cpus ?? 1)
      const enter = join(this.dir, 'bin', spec.name)
      await writeFile(enter, enterScript(spec.name, this.run, cgroup, net.nsPath))
      await chmod(enter, 0o755)
      const home = join(homes, spec.name)
      await mkdir(home, { recursive: true, mode: 0o700 })
      // jobs started without a cwd run here: were it the caller's directory (the repository, for
      // the benches), every first job would carry its node_modules to the target
      const workDir = join(this.dir, 'work', spec.name)
      await mkdir(workDir, { recursive: true })
      await writeFile(join(workDir, WORKSPACE_MARKER), '')
      this.nodes.push(new ClusterNode(this, spec.name, net.ip, home, net.ns, net.veth, cgroup, enter, workDir))
    }

    await this.seedBenchmark(homes)
    for (const [i, spec] of init.nodes.entries()) {
      const args = ['--listen', `/ip4/${this.nodes[i].ip}/tcp/${port}`, '--alias', spec.name, '--no-mdns']
      if (init.delayMs != null) args.push('--delay', String(init.delayMs))
      if (spec.metricOverride != null) args.push('--metric-override', String(spec.metricOverride))
      this.nodes[i].startDaemon([...args, ...(spec.args ?? [])])
    }
    await Promise.all(this.nodes.map(async (node) => {
      const ready = await node.waitForEvent(e => e.type === 'ready', START_TIMEOUT_MS)
      node.id = ready.id
      node.addrs = ready.addrs
      this.log(`node ${node.name} up: ${node.ip}, ${node.id}`)
    }))

    if (pairing === 'invite') {
      for (const [x, y] of init.links) {
        const { invite } = await this.node(y).json(['invite'])
        await this.node(x).json(['pair', invite, '--alias', y])
        this.log(`paired ${x}–${y}`)
      }
    }
    if (init.waitLive !== false) await this.waitLive()
  }

  /** Every linked pair has heard each other's gossip (both ends list the other as live). */
  private async waitLive (): Promise<void> {
    const deadline = Date.now() + Math.max(30_000, 6 * (this.init.delayMs ?? 5000))
    const missing = new Set(this.init.links.flatMap(([x, y]) => [`${x}>${y}`, `${y}>${x}`]))
    while (missing.size > 0) {
      for (const node of this.nodes) {
        const wanted = [...missing].filter(k => k.startsWith(`${node.name}>`))
        if (wanted.length === 0) continue
        const status = await node.json(['status'])
        for (const key of wanted) {
          const peer = this.node(key.split('>')[1])
          if (status.neighbours.some((n: any) => n.id === peer.id && n.live === true)) missing.delete(key)
        }
      }
      if (missing.size === 0) break
      if (Date.now() > deadline) throw new Error(`links not live after start-up: ${[...missing].join(', ')}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    this.log(`links live: ${this.init.links.map(l => l.join('–')).join(', ')}`)
  }

  async stop (): Promise<void> {
    this.stopping ??= this.teardown()
    await this.stopping
  }

  private async teardown (): Promise<void> {
    liveClusters.delete(this)
    // daemons first, gracefully (they remove their control sockets), then anything else
    const daemons = this.nodes.map(n => n.daemon).filter((p): p is ChildProcess => p != null)
    for (const d of daemons) killGroup(d, 'SIGTERM')
    await Promise.all(daemons.map(async (d) => {
      if (!await exited(d, STOP_GRACE_MS)) killGroup(d, 'SIGKILL')
    }))
    for (const p of this.processes) killGroup(p, 'SIGKILL')
    await Promise.all([...this.processes].map(async p => await exited(p, STOP_GRACE_MS)))
    const errors: string[] = []
    // a cgroup also catches what the daemons started (jobs) and what left its process group
    await this.cgroupsOfRun?.remove().catch((err) => { errors.push(err.message) })
    await this.network?.remove().catch((err) => { errors.push(err.message) })
    await rm(this.dir, { recursive: true, force: true }).catch((err) => { errors.push(err.message) })
    if (errors.length > 0) throw new Error(`cluster ${this.run} teardown incomplete: ${errors.join('; ')}`)
  }

  /** The same, synchronously, for process 'exit' (no event loop left). */
  stopSync (): void {
    if (this.stopping != null) return
    liveClusters.delete(this)
    for (const p of this.processes) killGroup(p, 'SIGKILL')
    this.cgroupsOfRun?.removeSync()
    this.network?.removeSync()
    try { rmSync(this.dir, { recursive: true, force: true }) } catch (err) { debug('removing the cluster directory: %s', errorMessage(err)) }
  }
}

let handlersInstalled = false
let exitHandlerInstalled = false

/** Ctrl-C, kill, or the terminal going away (SIGHUP) */
const TEARDOWN_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** On those signals: tear every live cluster down, then die of the signal as if we had not listened. */
function registerCleanup (cluster: NamespaceClusterImpl): void {
  liveClusters.add(cluster)
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true
    process.on('exit', () => { for (const c of liveClusters) c.stopSync() })
  }
  if (handlersInstalled) return
  handlersInstalled = true
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const s of TEARDOWN_SIGNALS) process.removeListener(s, onSignal)
    void Promise.allSettled([...liveClusters].map(async c => { await c.stop() })).then(() => {
      handlersInstalled = false
      // someone else listens too (a test runner, the cluster CLI): they decide when to exit
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
  for (const s of TEARDOWN_SIGNALS) process.on(s, onSignal)
}

/** `kappa-<pid>[-<n>][-<node>]`: a namespace, cgroup or run of this tool. */
const RUN_NAME = /^kappa-(\d+)(?:-\d+)?(?:-[a-z][a-z0-9]*)?$/

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

function staleRun (name: string): boolean {
  const m = RUN_NAME.exec(name)
  return m != null && !alive(Number(m[1]))
}

/**
 * Leftovers of runs whose owner died without cleaning up (SIGKILL, power
 * cut): namespaces, cgroups and temp dirs named after a pid that no longer
 * exists, with the processes still inside them. Returns what was removed.
 */
export async function removeStaleClusters (): Promise<string[]> {
  const removed: string[] = []
  const layout = detectCgroups()
  const roots = layout == null ? [] : layout.version === 2 ? [layout.root] : [layout.cpu, ...(layout.cpuacct != null ? [layout.cpuacct] : [])]
  for (const root of roots) {
    for (const run of readdirSync(root).filter(staleRun)) {
      const dir = join(root, run)
      for (const leaf of readdirSync(dir, { withFileTypes: true }).filter(e => e.isDirectory())) {
        await removeCgroupDir(join(dir, leaf.name))
      }
      await removeCgroupDir(dir)
      removed.push(`cgroup ${dir}`)
    }
  }
  for (const ns of (await listNamespaces()).filter(staleRun)) {
    const pids = (await ip(['netns', 'pids', ns]).catch(() => '')).split('\n').filter(l => l !== '').map(Number)
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch (err) { debug('killing a process: %s', errorMessage(err)) } }
    await ip(['netns', 'del', ns]).then(() => { removed.push(`netns ${ns}`) }, () => {})
  }
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const m = /^kappa-cluster-(\d+)(?:-\d+)?-/.exec(name)
    if (m != null && !alive(Number(m[1]))) {
      await rm(join(tmpdir(), name), { recursive: true, force: true })
      removed.push(`dir ${join(tmpdir(), name)}`)
    }
  }
  return removed
}

async function removeCgroupDir (dir: string): Promise<void> {
  // a node's daemon makes its job cgroups below its own (src/migrate/limits.ts): they go first
  for (const sub of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (sub.isDirectory()) await removeCgroupDir(join(dir, sub.name))
  }
  for (let i = 0; i < 100; i++) {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')
    for (const pid of procs.split('\n').filter(l => l !== '')) { try { process.kill(Number(pid), 'SIGKILL') } catch (err) { debug('killing a process in the cgroup: %s', errorMessage(err)) } }
    try {
      await rmdir(dir)
      return
    } catch (err: any) {
      if (err.code === 'ENOENT') return
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }
  throw new Error(`cannot remove cgroup ${dir}: processes keep running in it`)
}
