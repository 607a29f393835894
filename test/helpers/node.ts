/**
 * Test harness: kappa-node daemons as real OS processes on 127.0.0.1, each
 * with its own home, driven through the real CLI. Everything started here is
 * killed and removed by `cleanup()`, which every test file runs afterEach;
 * what `keep()` started (daemons a describe's tests share) lasts until
 * `cleanupKept()`, which that describe runs after.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process'
import { constants, createWriteStream, existsSync, readFileSync } from 'node:fs'
import { chmod, copyFile, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { DAEMON_NODE_FLAGS } from '../../src/constants.js'

import { DAEMON_MAIN, MAIN } from '../../src/cluster/entry.js'

export { DAEMON_MAIN, MAIN }
export const REPO = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * The gossip period (`--delay`, ms) of the e2e tier's busy/idle pairs. A
 * neighbour silent for 3 delays stops counting, and a job meant for B then
 * runs locally (or fails, with --remote). 100 ms dropped B whenever a loaded
 * machine stalled a daemon for 300 ms; 250 ms still did beside
 * `stress-ng --cpu 4` ("no node to run it on" while B received 5000 files);
 * 500 ms tolerates 1.5 s, and a new pair is still live within one period.
 * (Idle daemons cost less too: ~2.8 % of a CPU each at 100 ms, ~1 % at 1 s.)
 */
export const PAIR_DELAY = '500'

/** bubblewrap on PATH: the sandbox's own tests need it (.ci/run installs it) */
export const HAS_BWRAP = ((): boolean => { try { execFileSync('bwrap', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()

/**
 * Without bubblewrap a default daemon refuses every job for others (fail
 * closed), so the tests of migration, workspace and builds would test that
 * refusal only. Their daemons run jobs with --no-sandbox then, the owner's
 * explicit opt-out; a test that sets the sandbox itself (--bwrap,
 * --no-sandbox) is left as it is.
 */
function sandboxArgs (args: string[]): string[] {
  if (HAS_BWRAP || args.includes('--bwrap') || args.includes('--no-sandbox')) return []
  if (!saidUnsandboxed) console.log('      (bubblewrap is not installed: test daemons run jobs with --no-sandbox; .ci/run installs it)')
  saidUnsandboxed = true
  return ['--no-sandbox']
}
let saidUnsandboxed = false

/** Skips a test that needs the sandbox's view (the workspace at its own path), with the one-line reason, when bubblewrap is missing. */
export function skipWithoutBwrap (ctx: Mocha.Context): void {
  if (HAS_BWRAP) return
  console.log('      skipped: bubblewrap (bwrap) is not installed, and only the sandbox shows a job the workspace at its path; .ci/run installs it')
  ctx.skip()
}

/**
 * Tests that run something as user nobody need it to read `path` (a file of
 * this checkout): a checkout in a private directory (mktemp -d) cannot be
 * read by nobody at all, and setpriv may be missing. Skips with the reason.
 */
export function skipUnlessNobodyReads (ctx: Mocha.Context, path: string): void {
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', path], { stdio: 'ignore' })
  } catch (err: any) {
    console.log(`      skipped: ${err.code === 'ENOENT' ? 'setpriv (util-linux) is not installed' : 'user nobody cannot read this checkout'}`)
    ctx.skip()
  }
}

/** What one scope started: a test's own things, or those `keep()` made for several tests. */
interface Scope {
  processes: Set<ChildProcess>
  dirs: Set<string>
  closers: Set<() => Promise<void>>
  /** each home's job directory (kept across restarts of one home: its sweep is tested) */
  jobsDirs: Map<string, string>
}
const newScope = (): Scope => ({ processes: new Set(), dirs: new Set(), closers: new Set(), jobsDirs: new Map() })
const perTest = newScope()
const kept = newScope()
/** where what is started now is registered: `kept` while `keep()` runs (mocha runs hooks one at a time) */
let current = perTest

export async function tmpDir (prefix = 'kappa-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  current.dirs.add(dir)
  return dir
}

/** Register anything else a test must tear down (in-process libp2p nodes, servers). */
export function onCleanup (close: () => Promise<void>): void {
  current.closers.add(close)
}

/** Tears down what the test started (run from afterEach); what `keep()` started stays. */
export async function cleanup (): Promise<void> {
  await tearDown(perTest)
}

/** Tears down everything, what `keep()` started too (run from the `after` of a describe that keeps). */
export async function cleanupKept (): Promise<void> {
  await tearDown(perTest)
  await tearDown(kept)
}

/**
 * Runs `start` (from a `before` hook) so that what it starts lasts until
 * `cleanupKept()`: daemons several tests share. Each test's own `cleanup()`
 * still ends its clients and removes its directories.
 */
export async function keep<T> (start: () => Promise<T>): Promise<T> {
  if (current === kept) return await start()
  current = kept
  try { return await start() } finally { current = perTest }
}

/** Nodes several tests share (see `sharedNodes`). */
export interface SharedNodes<T extends TestNode[]> {
  /** the nodes, started now if no earlier test left a usable set */
  get: () => Promise<T>
  /** a test that changes them (pins, unpairs) says so first: the next test gets new ones */
  discard: () => void
}

/**
 * Nodes the tests of a describe share: started by the first test that asks
 * (in a `beforeEach`), started afresh only after a test discarded them or
 * killed one of them (the survivors are killed then: a half-dead set is no
 * fixture). The describe runs `cleanupKept` after.
 */
export function sharedNodes<T extends TestNode[]> (start: () => Promise<T>): SharedNodes<T> {
  let nodes: T | undefined
  let discarded = false
  return {
    get: async () => {
      if (nodes != null && !discarded && nodes.every(n => n.proc.exitCode == null && n.proc.signalCode == null)) return nodes
      if (nodes != null) for (const n of nodes) await n.kill('SIGKILL')
      discarded = false
      nodes = await keep(start)
      return nodes
    },
    discard: () => { discarded = true }
  }
}

async function tearDown (scope: Scope): Promise<void> {
  const { processes, dirs, closers, jobsDirs } = scope
  for (const close of closers) await close().catch(() => {})
  closers.clear()
  for (const p of processes) {
    if (p.exitCode == null && p.signalCode == null) p.kill('SIGKILL')
  }
  await Promise.all([...processes].map(async p => { await exited(p) }))
  processes.clear()
  await harvestBenchmark()
  // a daemon killed with SIGKILL leaves its job cgroups (and what runs in them)
  const { JobCgroups } = await import('../../src/migrate/limits.js')
  const { nodeKey } = await import('../../src/migrate/jobhost.js')
  for (const home of jobsDirs.keys()) {
    await JobCgroups.removeAll(nodeKey(home)).catch(() => {})
    homes.delete(home)
  }
  jobsDirs.clear()
  // a daemon killed while a job ran leaves that job's overlay mounted (its next start would sweep it)
  for (const d of dirs) await unmountUnder(d)
  for (const d of dirs) await rm(d, { recursive: true, force: true })
  dirs.clear()
}

async function unmountUnder (dir: string): Promise<void> {
  const { mountsUnder } = await import('../../src/workspace/view.js')
  for (const point of await mountsUnder(dir)) {
    await new Promise<void>((resolve) => { execFile('umount', ['-l', point], () => { resolve() }) })
  }
}

async function exited (p: ChildProcess): Promise<void> {
  if (p.exitCode != null || p.signalCode != null) return
  await new Promise<void>(resolve => p.once('exit', () => { resolve() }))
}

const UNTIL_FLOOR_MS = 60_000

export interface CliResult { code: number, stdout: string, stderr: string }

export async function cli (args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, KAPPA_HOME: undefined, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as any).code === 'number' ? (err as any).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Run a CLI command that must succeed with --json, and parse its output. */
export async function cliJson (args: string[]): Promise<any> {
  const r = await cli([...args, '--json'])
  if (r.code !== 0) throw new Error(`kappa-node ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout)
}

export interface TestNode {
  name: string
  home: string
  id: string
  addrs: string[]
  /** where its job directories go (--jobs-dir: outside its home) */
  jobsDir: string
  proc: ChildProcess
  /** every JSON event the daemon printed so far */
  events: any[]
  waitForEvent (pred: (e: any) => boolean, timeoutMs?: number): Promise<any>
  cli (args: string[]): Promise<CliResult>
  json (args: string[]): Promise<any>
  kill (signal?: NodeJS.Signals): Promise<void>
}

export interface StartOptions {
  home?: string
  args?: string[]
  /** mDNS stays off unless asked for (tests must not talk to a real LAN) */
  mdns?: boolean
  /** listen address (default 127.0.0.1, a free port) */
  listen?: string
  /** a command the daemon is started through (e.g. `unshare -m … sh -c '…; exec "$@"' sh`); it must exec the daemon in the same process */
  prefix?: string[]
}

/**
 * One CPU benchmark for the whole run (~2 s of CPU each, and the suite
 * starts about a hundred daemons): a new home gets the score an earlier
 * daemon measured, in its cache file. The daemon checks the file's key (boot,
 * CPU model, Node version) as always and measures again when it does not
 * match; the tests of the benchmark itself use fresh homes of their own.
 */
const SHARED_BENCHMARK = join(tmpdir(), `kappa-test-benchmark-${process.getuid?.() ?? 0}-${bootId()}-${process.version}.json`)

function bootId (): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() } catch { return 'unknown' }
}
const homes = new Set<string>()

async function seedBenchmark (home: string): Promise<void> {
  await copyFile(SHARED_BENCHMARK, join(home, 'benchmark.json'), constants.COPYFILE_EXCL).catch(() => {})
}

/** Keep a score a daemon measured for the next homes (atomically: parallel runs read it). */
async function harvestBenchmark (): Promise<void> {
  if (existsSync(SHARED_BENCHMARK)) return
  for (const home of homes) {
    const measured = join(home, 'benchmark.json')
    if (!existsSync(measured)) continue
    const temporary = `${SHARED_BENCHMARK}.${process.pid}`
    await copyFile(measured, temporary).then(async () => { await rename(temporary, SHARED_BENCHMARK) }).catch(() => {})
    return
  }
}

export async function startNode (name: string, opts: StartOptions = {}): Promise<TestNode> {
  const home = opts.home ?? await tmpDir(`kappa-${name}-`)
  await harvestBenchmark()
  await seedBenchmark(home)
  homes.add(home)
  // the node's job directories in a test directory too (removed with it); the job user must reach them
  // a home is registered in one scope only (below, when neither has it)
  let jobsDir = perTest.jobsDirs.get(home) ?? kept.jobsDirs.get(home)
  if (jobsDir == null) {
    jobsDir = await tmpDir(`kappa-${name}-jobs-`)
    await chmod(jobsDir, 0o711)
    current.jobsDirs.set(home, jobsDir)
  }
  const own = (opts.args ?? []).includes('--jobs-dir') ? [] : ['--jobs-dir', jobsDir]
  const args = [DAEMON_MAIN, 'start', '--home', home, '--listen', opts.listen ?? '/ip4/127.0.0.1/tcp/0', '--alias', name, '--json', '--http', '127.0.0.1:0', ...(opts.mdns === true ? [] : ['--no-mdns']), ...own, ...sandboxArgs(opts.args ?? []), ...(opts.args ?? [])]
  const command = [...(opts.prefix ?? []), process.execPath, ...DAEMON_NODE_FLAGS, ...args]
  const proc = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAPPA_HOME: undefined } })
  current.processes.add(proc)
  const events: any[] = []
  const waiters = new Set<{ pred: (e: any) => boolean, resolve: (e: any) => void }>()
  let stderr = ''
  proc.stderr?.on('data', (d) => { stderr += String(d) })
  // KAPPA_TEST_DAEMON_LOGS=dir keeps each daemon's stderr (DEBUG=kappa:* output included) in dir/<name>-<pid>.log
  const logs = process.env.KAPPA_TEST_DAEMON_LOGS
  if (logs != null && logs !== '') proc.stderr?.pipe(createWriteStream(join(logs, `${name}-${String(proc.pid)}.log`)))
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let e: any
    try { e = JSON.parse(line) } catch { return }
    events.push(e)
    for (const w of waiters) if (w.pred(e)) { waiters.delete(w); w.resolve(e) }
  })
  const waitForEvent = async (pred: (e: any) => boolean, timeoutMs = 10_000): Promise<any> => {
    const seen = events.find(pred)
    if (seen != null) return seen
    return await new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: any) => { clearTimeout(timer); resolve(e) } }
      const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`${name}: no matching event within ${timeoutMs} ms (stderr: ${stderr.trim()})`)) }, timeoutMs)
      waiters.add(w)
      proc.once('exit', (code) => { if (waiters.delete(w)) { clearTimeout(timer); reject(new Error(`${name} exited ${code}: ${stderr.trim()}`)) } })
    })
  }
  const ready = await waitForEvent(e => e.type === 'ready', 30_000)
  return {
    name,
    home,
    id: ready.id,
    addrs: ready.addrs,
    jobsDir: own.length > 0 ? jobsDir : (opts.args ?? [])[(opts.args ?? []).indexOf('--jobs-dir') + 1],
    proc,
    events,
    waitForEvent,
    cli: async (a) => await cli([...a, '--home', home]),
    json: async (a) => await queryJson(home, a),
    kill: async (signal = 'SIGTERM') => {
      proc.kill(signal)
      await exited(proc)
    }
  }
}

/**
 * The read-only queries (`status`, `peers`, `id`, `requests`, `discover`,
 * `probe`, with no further arguments) go to the daemon's control socket from
 * this process: `--json` prints the method's result as it is, and the polling
 * loops would otherwise start a Node process every few ms. Everything else,
 * and the CLI's own output, goes through the CLI.
 */
const QUERIES = new Set<string>(['status', 'peers', 'id', 'requests', 'discover', 'probe'] satisfies Query[])

async function queryJson (home: string, args: string[]): Promise<any> {
  if (args.length !== 1 || !QUERIES.has(args[0])) return await cliJson([...args, '--home', home])
  return await query(home, args[0] as Query)
}

export type Query = 'status' | 'peers' | 'id' | 'requests' | 'discover' | 'probe'

/**
 * A read-only query (as `kappa-node <query> --json` prints it) to the daemon
 * of any home from this process, over its control socket: for polling loops,
 * which would otherwise start a Node process each time (a daemon in a
 * network namespace too: its socket is a file in its home).
 */
export async function query (home: string, method: Query): Promise<any> {
  const { callDaemon } = await import('../../src/control/client.js')
  return JSON.parse(JSON.stringify(await callDaemon(home, method)))
}

/**
 * Pair `a` with `b` using a fresh invite from `b`: the control calls `invite`
 * and `pair` make, from this process (set-up for most e2e tests; the CLI's
 * own output is tested in pairing and cli-ops, and a CLI process each costs
 * ~0.2 CPU s).
 */
export async function pairNodes (a: TestNode, b: TestNode): Promise<void> {
  const { callDaemon } = await import('../../src/control/client.js')
  const { invite } = await callDaemon(b.home, 'invite', {})
  await callDaemon(a.home, 'pair', { target: invite })
}

/**
 * Wait for a condition. The deadline only keeps a broken test from hanging:
 * it is never a measurement, so it is at least UNTIL_FLOOR_MS whatever the
 * caller asks (the suite must pass on a loaded machine).
 */
export async function until<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  timeoutMs = Math.max(timeoutMs, UNTIL_FLOOR_MS)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v as T
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** A neighbour's entry in a `status --json` document. */
export function neighbour (status: any, id: string): any {
  return status.neighbours.find((n: any) => n.id === id)
}

/** Both ends have heard each other's gossip (a probe is only taken from a live neighbour). */
export async function gossipLive (x: TestNode, y: TestNode, timeoutMs = 10_000): Promise<void> {
  await until(`${x.name} and ${y.name} to hear each other`, async () =>
    neighbour(await x.json(['status']), y.id)?.live === true && neighbour(await y.json(['status']), x.id)?.live === true, timeoutMs, 20)
}

/** A busy node `a` (37) paired with an idle node `b` (148), gossiping every PAIR_DELAY ms, each live to the other: a job from a goes to b. */
export async function busyAndIdlePair (): Promise<[TestNode, TestNode]> {
  const [a, b] = await Promise.all([
    startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
    startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '148'] })
  ])
  await pairNodes(a, b)
  await gossipLive(a, b)
  return [a, b]
}
