/**
 * bench/build (issue 13): a real C build that no one here wrote — GNU
 * binutils 2.40 from Debian's `binutils-source` (libiberty, zlib, libsframe,
 * BFD and opcodes: ~150 C files, ~2 minutes of one CPU at -O2) — built from
 * A with `make -jN` on three namespaced hosts with equal CPU quotas:
 * locally on A alone; with distcc (distccd in each namespace, plain mode);
 * with icecream (icecc-scheduler on A, iceccd in each namespace); with kappa
 * through `kappa-node wrap` shims. Same source, same flags, same directory,
 * a clean configured tree each time (configure runs once, untimed), runs
 * alternating between the four, medians; every build's object files are
 * compared with the first local build's.
 *
 *   npm run bench:build              3 runs of each, the full build
 *   npm run bench:build -- --quick   libiberty only, 1 run of each
 *
 * Env: BUILD_CPUS (quota per host, default 0.5: three hosts must fit the
 * machine), BUILD_JOBS (make -j, default 6), BUILD_CACHE (source and
 * configured tree, default /var/tmp/kappa-bench-build), BUILD_LEGS (e.g.
 * local,kappa: only those ways), BUILD_KEEP (a directory: each build's make
 * output and, at the end, the nodes' homes and A's events are copied there,
 * to look into a failed or slow run). Needs root. Installs
 * distcc and icecc with apt-get when missing, and says which peer could not
 * run and why.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { chown, mkdir, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createNamespaceCluster, type NamespaceCluster, type NamespaceNode } from '../src/cluster/index.js'
import { REPO } from '../test/helpers/node.js'
import { errorMessage } from '../src/errors.js'
import { LAUNCHER, fmt, machine, requireRoot, settle } from './lib/paper.js'
import { updateResultsSection } from './lib/results.js'
import { processCpu } from './lib/stats.js'
import { formatBytes } from '../src/units.js'

const QUICK = process.argv.includes('--quick')
/** BUILD_CPU_PERIOD_US: the quotas' CFS period (default the kernel's 100 ms), to see what throttling's bursts cost each way */
const CPU_PERIOD_US = process.env.BUILD_CPU_PERIOD_US != null ? Number(process.env.BUILD_CPU_PERIOD_US) : undefined
const RUNS = QUICK ? 1 : Number(process.env.RUNS ?? 3)
const CPUS = Number(process.env.BUILD_CPUS ?? 0.5)
const JOBS = Number(process.env.BUILD_JOBS ?? 6)
const CACHE = process.env.BUILD_CACHE ?? '/var/tmp/kappa-bench-build'
const VERSION = 'binutils-2.40'
const TARGETS = QUICK ? ['all-libiberty'] : ['all-libiberty', 'all-zlib', 'all-libsframe', 'all-bfd', 'all-opcodes']
/** the flags of every build (configure's CFLAGS; no -g, so objects do not record where they were compiled) */
const CFLAGS = '-O2'
const CONFIGURE = ['--disable-nls', '--disable-werror', '--disable-shared', '--disable-gdb', '--disable-gdbserver', '--disable-sim', '--disable-gprofng', '--without-zstd', `CFLAGS=${CFLAGS}`]
/** every build runs in this one directory (configure records it): objects are compared file by file */
const TREE = join(CACHE, 'b')
/** the tree as configure left it, copied to TREE before each build */
const PRISTINE = join(CACHE, 'b.pristine')
/** distcc's state directory: the client does not create it, and without it every compile runs locally ("failed to lock") */
const DISTCC_DIR = join(CACHE, 'distcc-home')
const COMPILERS = ['gcc', 'cc', 'g++', 'c++']
/** BUILD_LEGS=local,kappa runs only those ways (names' first words), for profiling one of them */
const KEEP = process.env.BUILD_KEEP
const ONLY = process.env.BUILD_LEGS?.split(',').map(l => l.trim()).filter(l => l !== '')

const log = (line: string): void => { process.stderr.write(`${line}\n`) }

function sh (cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 })
}

function have (command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** distcc and icecc from Debian when missing; what is still missing afterwards, per peer. */
function ensurePeers (): Record<string, string | undefined> {
  const need = [['distcc', ['distcc', 'distccd']], ['icecc', ['icecc', 'iceccd', 'icecc-scheduler']]] as const
  const missing = need.filter(([, cmds]) => cmds.some(c => !have(c))).map(([pkg]) => pkg)
  if (missing.length > 0) {
    log(`installing ${missing.join(', ')} (apt-get)…`)
    const r = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    if (r.status !== 0) log(`apt-get failed: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`)
  }
  const why: Record<string, string | undefined> = {}
  for (const [pkg, cmds] of need) {
    const absent = cmds.filter(c => !have(c))
    why[pkg] = absent.length > 0 ? `${absent.join(', ')} not installed (Debian package ${pkg}; apt-get install failed or is not available)` : undefined
  }
  if (!existsSync('/usr/lib/distcc/gcc') && have('update-distcc-symlinks')) spawnSync('update-distcc-symlinks', { stdio: 'ignore' })
  return why
}

/** The source: Debian's binutils-source (a tarball inside), fetched once with apt-get download (no build dependencies). */
function source (): string {
  const src = join(CACHE, 'src', VERSION)
  if (existsSync(join(src, 'configure'))) return src
  const deb = join(CACHE, 'deb')
  execFileSync('mkdir', ['-p', deb, join(CACHE, 'src')])
  log('fetching binutils-source (apt-get download, ~24 MB)…')
  sh('apt-get', ['download', 'binutils-source'], { cwd: deb })
  const file = readdirSync(deb).find(f => f.startsWith('binutils-source_') && f.endsWith('.deb'))
  if (file == null) throw new Error('apt-get download binutils-source gave no .deb')
  sh('dpkg-deb', ['-x', join(deb, file), join(deb, 'x')])
  sh('tar', ['-C', join(CACHE, 'src'), '-xf', join(deb, 'x/usr/src/binutils', `${VERSION}.tar.xz`)])
  return src
}

/** configure once (and the subdirectories make would configure during the build), untimed; each run copies this tree. */
function configured (src: string): void {
  const marker = join(PRISTINE, '.kappa-configured')
  // configure records the tree's absolute path: a tree configured elsewhere does not count
  const wanted = JSON.stringify({ configure: CONFIGURE, tree: TREE })
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return
  log('configuring once (untimed; several minutes on a busy machine)…')
  // in the build directory itself: configure records absolute paths
  execFileSync('rm', ['-rf', PRISTINE, TREE])
  execFileSync('mkdir', ['-p', TREE])
  sh(join(src, 'configure'), CONFIGURE, { cwd: TREE })
  sh('make', ['configure-libiberty', 'configure-zlib', 'configure-libsframe', 'configure-bfd', 'configure-opcodes', 'MAKEINFO=true'], { cwd: TREE })
  execFileSync('cp', ['-a', TREE, PRISTINE])
  execFileSync('sh', ['-c', `printf '%s' '${wanted}' > ${marker}`])
}

/**
 * The kappa leg's workspace: the source and the build tree together (a
 * compile in b/libiberty reads ../../src/…/include), marked at CACHE, with
 * what no compile of these targets reads left out (the other ways'
 * directories, the pristine copy, binutils' gas, ld, gold… and test
 * suites): a first sync of ~90 MB instead of ~700 MB. What a user of an
 * out-of-tree build writes once (docs/workspace.md).
 */
async function markWorkspace (): Promise<void> {
  await writeFile(join(CACHE, '.kappa-workspace'), '')
  // not libctf: libsframe's sframe.c includes its swap.h (leaving it out made that one compile fail on
  // its target in every run, "fatal error: swap.h: No such file or directory", and run again on A)
  const unused = ['gas', 'ld', 'gold', 'gprofng', 'gprof', 'binutils', 'sim', 'gdb', 'gdbserver', 'gdbsupport', 'gnulib', 'cpu', 'etc', 'texinfo', 'elfcpp', 'libbacktrace', 'readline']
  await writeFile(join(CACHE, '.kappaignore'), [
    '/b.pristine/', '/deb/', '/icecc-*/', '/kappa-shims/', '/distcc-home/', '/icecc-home/', '*.log',
    ...unused.map(d => `/src/${VERSION}/${d}/`),
    'testsuite/', 'po/', ''
  ].join('\n'))
}

/** sha256 of every object file under the tree, by relative path. */
function objects (): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      const st = statSync(path, { throwIfNoEntry: false })
      if (st == null) continue
      if (st.isDirectory()) walk(path)
      else if (name.endsWith('.o')) out.set(relative(TREE, path), createHash('sha256').update(readFileSync(path)).digest('hex'))
    }
  }
  walk(TREE)
  return out
}

interface Leg {
  name: string
  /** why it cannot run here, if it cannot */
  unavailable?: string
  env: NodeJS.ProcessEnv
}

interface Run {
  leg: string
  seconds: number
  ok: boolean
  note: string
  objects: Map<string, string>
  remote: number
  fellBack: number
  /** CPU seconds the build used in B's and C's cgroups (their compiles; an idle kappa daemon's ~1 % too) */
  othersCpu: number
  /** CPU seconds the build used in A's cgroup */
  originCpu: number
}

/** Why a peer's daemons are not all running `settleMs` after their start (undefined: they are). */
async function stillRunning (what: string, daemons: Array<{ node: string, proc: ChildProcess }>, settleMs: number): Promise<string | undefined> {
  const stderr = new Map<ChildProcess, string>()
  for (const { proc } of daemons) proc.stderr?.on('data', (d) => { stderr.set(proc, ((stderr.get(proc) ?? '') + String(d)).slice(-500)) })
  await new Promise(resolve => setTimeout(resolve, settleMs))
  const dead = daemons.find(({ proc }) => proc.exitCode != null || proc.signalCode != null)
  if (dead == null) return undefined
  return `${what} on ${dead.node} exited at start (${String(dead.proc.exitCode ?? dead.proc.signalCode)}): ${(stderr.get(dead.proc) ?? '').trim().split('\n').pop() ?? ''}`
}

async function startDistcc (cluster: NamespaceCluster): Promise<string | undefined> {
  await mkdir(DISTCC_DIR, { recursive: true })
  const daemons = cluster.nodes.map(n => ({
    node: n.name,
    proc: n.spawn(['distccd', '--daemon', '--no-detach', '--listen', n.ip, '--allow', cluster.subnet, '--jobs', '2', '--log-stderr', '--log-level', 'error', '--user', 'nobody'])
  }))
  return await stillRunning('distccd', daemons, 1500)
}

/**
 * icecream's daemons drop to the icecc user: their environment directory
 * and log must be its own (a root-owned one makes iceccd exit at start, and
 * every compile then runs locally without a word). A private /var/run/icecc
 * for each node's iceccd: the daemons share one filesystem, and each needs
 * its own socket there.
 */
async function startIcecream (cluster: NamespaceCluster): Promise<string | undefined> {
  const a = cluster.node('a')
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'icecc'], { encoding: 'utf8' }).trim())
  const [uid, gid] = [id('-u'), id('-g')]
  const owned = async (dir: string): Promise<string> => {
    await mkdir(dir, { recursive: true })
    await chown(dir, uid, gid)
    return dir
  }
  const logs = await owned(join(CACHE, 'icecc-logs'))
  const daemons = [{ node: 'a', proc: a.spawn(['icecc-scheduler', '-l', join(logs, 'scheduler.log')]) }]
  await new Promise(resolve => setTimeout(resolve, 1000))
  for (const n of cluster.nodes) {
    const base = await owned(join(CACHE, `icecc-${n.name}`))
    const iceccd = `iceccd -s ${a.ip} -m 2 -b ${base} -N ${n.name} -l ${join(logs, `iceccd-${n.name}.log`)}`
    if (n.name === 'a') {
      await owned('/var/run/icecc')
      daemons.push({ node: n.name, proc: n.spawn(['sh', '-c', `exec ${iceccd}`]) })
    } else {
      daemons.push({ node: n.name, proc: n.spawn(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mkdir -p /var/run/icecc && mount -t tmpfs -o mode=0755,uid=${uid},gid=${gid} none /var/run/icecc && exec ${iceccd}`]) })
    }
  }
  return await stillRunning('icecc-scheduler or iceccd', daemons, 3000)
}

/** CPU seconds a node's cgroup has used (v2 cpu.stat usage_usec; v1 cpuacct.usage), and seconds it was throttled by its quota. */
function cpuUse (node: NamespaceNode): { used: number, throttled: number } {
  const dir = node.cgroup.dir
  const read = (f: string): string => { try { return readFileSync(f, 'utf8') } catch { return '' } }
  const stat = read(join(dir, 'cpu.stat'))
  const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? NaN)
  if (!Number.isNaN(field('usage_usec'))) return { used: field('usage_usec') / 1e6, throttled: field('throttled_usec') / 1e6 }
  return { used: Number(read(join(dir.replace('/cpu/', '/cpuacct/'), 'cpuacct.usage')).trim()) / 1e9, throttled: field('throttled_time') / 1e9 }
}

const MAKE_TIME_MARK = 'kappa-bench-make-cpu'

/**
 * The daemon's CPU and what it reaped (its jobs' sandboxes), with its spawn
 * helper's: the helper forks the sandboxes and reaps them.
 */
function daemonCpu (node: NamespaceNode): { self: number, children: number } {
  try {
    const pid = node.daemon.pid ?? 0
    const cpu = processCpu(pid)
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(c => c !== '')) {
      if (!readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('spawn-helper')) continue
      const helper = processCpu(Number(child))
      cpu.self += helper.self
      cpu.children += helper.children
    }
    return cpu
  } catch {
    return { self: NaN, children: NaN }
  }
}

/**
 * Counters since the node's daemon started, from one status call: metric
 * messages sent, triggered ones skipped as unchanged, and jobs its wrapped
 * commands started on the placement hint (NaN when status cannot be had).
 */
async function statusCounts (node: NamespaceNode): Promise<{ sent: number, unchanged: number, claimed: number }> {
  try {
    const status = await node.json(['status'])
    return { sent: Number(status.gossip?.messages?.sent ?? NaN), unchanged: Number(status.gossip?.messages?.unchanged ?? NaN), claimed: Number(status.hint?.claimed ?? NaN) }
  } catch {
    return { sent: NaN, unchanged: NaN, claimed: NaN }
  }
}

async function buildOnce (a: NamespaceNode, leg: Leg, warmUp?: () => Promise<void>, nodes: NamespaceNode[] = [a]): Promise<Run> {
  await rm(TREE, { recursive: true, force: true })
  execFileSync('cp', ['-a', PRISTINE, TREE])
  // untimed: what a daemon that has been running does not pay at a build's start
  await warmUp?.()
  const placedBefore = a.events.filter(e => e.type === 'job-placed' && e.where === 'remote').length
  const eventsBefore = a.events.length
  const cpuBefore = nodes.map(cpuUse)
  const daemonBefore = nodes.map(daemonCpu)
  const countsBefore = await Promise.all(nodes.map(statusCounts))
  const start = process.hrtime.bigint()
  // GNU time's last stderr line: the CPU of make and everything it started (compilers, shims, clients), waited for
  const r = await a.exec([...(existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', `${MAKE_TIME_MARK} %U %S`] : []), 'make', `-j${JOBS}`, ...TARGETS, 'MAKEINFO=true'], { cwd: TREE, env: leg.env, timeoutMs: 3_600_000 })
  const makeTime = new RegExp(`^${MAKE_TIME_MARK} ([\\d.]+) ([\\d.]+)$`, 'm').exec(r.stderr)
  r.stderr = r.stderr.replace(new RegExp(`^${MAKE_TIME_MARK} .*\\n?`, 'm'), '')
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (KEEP != null) await writeFile(join(KEEP, `make-${leg.name.split(' ')[0]}-${Date.now()}.log`), `${r.stdout}\n---- stderr\n${r.stderr}`)
  // where the CPU went: a node at its quota the whole time is the build's bottleneck
  const used = nodes.map((n, i) => { const after = cpuUse(n); return { used: after.used - cpuBefore[i].used, throttled: after.throttled - cpuBefore[i].throttled } })
  const cpu = nodes.map((n, i) => `${n.name} ${fmt(used[i].used, 1)} s (throttled ${fmt(used[i].throttled, 1)} s)`).join(', ')
  const othersCpu = used.filter((_, i) => nodes[i] !== a).reduce((sum, u) => sum + u.used, 0)
  const originCpu = used.find((_, i) => nodes[i] === a)?.used ?? NaN
  const daemons = nodes.map((n, i) => { const after = daemonCpu(n); return `${n.name} ${fmt(after.self - daemonBefore[i].self, 1)} s (what it ran ${fmt(after.children - daemonBefore[i].children, 1)} s)` }).join(', ')
  const countsAfter = await Promise.all(nodes.map(statusCounts))
  const gossip = nodes.map((n, i) => `${n.name} ${countsAfter[i].sent - countsBefore[i].sent} (${countsAfter[i].unchanged - countsBefore[i].unchanged} unchanged not sent)`).join(', ')
  log(`    CPU used: ${cpu}; daemons: ${daemons}; on ${a.name}, make and what it started ${makeTime == null ? '?' : fmt(Number(makeTime[1]) + Number(makeTime[2]), 1)} s; metric messages sent: ${gossip}`)
  const kappaLines = r.stderr.split('\n').filter(l => l.startsWith('kappa-node:'))
  const fellBackLines = kappaLines.filter(l => /here instead|but succeeded here/.test(l))
  const fellBack = fellBackLines.length
  // why: the line names what failed (a lost target, a sandbox error, a compile that failed only there)
  for (const line of fellBackLines.slice(0, 3)) log(`    ${line.length > 240 ? `${line.slice(0, 240)}…` : line}`)
  const remote = a.events.filter(e => e.type === 'job-placed' && e.where === 'remote').length - placedBefore
  if (leg.name.startsWith('kappa')) {
    // where A's wrapped calls went: why the daemon kept some here, and how many a shim started here on the hint
    const ai = nodes.indexOf(a)
    const onHint = ai < 0 ? NaN : countsAfter[ai].claimed - countsBefore[ai].claimed
    const reasons = new Map<string, number>()
    for (const e of a.events.slice(eventsBefore)) {
      if (e.type === 'job-placed' && e.where === 'local') reasons.set(String(e.reason), (reasons.get(String(e.reason)) ?? 0) + 1)
    }
    log(`    on ${a.name}: ${remote} placed elsewhere, ${onHint} started here on the hint, kept here by the daemon: ${[...reasons].map(([why, n]) => `${n} (${why})`).join(', ') || 'none'}`)
  }
  const ok = r.code === 0
  const note = ok ? '' : `make exited ${String(r.code ?? r.signal)}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`
  if (kappaLines.length > 0) await writeFile(join(CACHE, `kappa-stderr-${Date.now()}.log`), kappaLines.join('\n') + '\n')
  return { leg: leg.name, seconds, ok, note, objects: ok ? objects() : new Map(), remote, fellBack, othersCpu, originCpu }
}

/**
 * Where a remote compile's time went on its target, from the job log's
 * `phases` (ms since the stream opened, per step): the median of each
 * step's own time over every job B and C ran.
 */
function phaseProfile (jobs: any[], last: string, what: string): string {
  const done = jobs.filter(j => j.phases != null && j.phases[last] != null)
  if (done.length === 0) return ''
  const steps = new Map<string, number[]>()
  for (const j of done) {
    let prev = 0
    for (const [name, at] of Object.entries(j.phases as Record<string, number>)) {
      steps.set(name, [...(steps.get(name) ?? []), at - prev])
      prev = at
    }
  }
  const total = median(done.map(j => j.phases[last] as number))
  const slowest = done.reduce((x, y) => (y.phases[last] > x.phases[last] ? y : x))
  log(`    slowest job ${what.split(' (')[0]}: ${(slowest.argv ?? []).slice(0, 6).join(' ')} … ${JSON.stringify(slowest.phases)}`)
  const rows = [...steps].map(([name, xs]) => `| ${name} | ${fmt(median(xs), 1)} | ${fmt(Math.max(...xs), 0)} | ${xs.length} |`)
  return [
    `Where a remote compile's time went ${what}: ${done.length} jobs, the whole a median ${fmt(total, 0)} ms:`,
    '',
    '| step (ends at) | median ms | max ms | jobs |',
    '| --- | ---: | ---: | ---: |',
    ...rows
  ].join('\n')
}

/**
 * Untimed, before each kappa build: `gcc --version` and `cc --version` in
 * the fresh tree, placed on each of B and C. A's daemon describes the workspace (a daemon that has
 * been running keeps it watched; this bench copies a fresh tree each time),
 * the targets bring their mirrors up to date and A its toolchain identity,
 * as distccd and iceccd are up and icecream's compiler environment is
 * built before their timed builds.
 */
async function warmKappa (a: NamespaceNode, targets: NamespaceNode[]): Promise<void> {
  // each C driver name the build calls (configure chose gcc; Makefiles say cc): a toolchain identity is per name
  for (const t of targets) {
    for (const driver of ['gcc', 'cc']) {
      const r = await a.exec([LAUNCHER, 'run', '--home', a.home, '--peer', t.name, '--', driver, '--version'], { cwd: TREE, timeoutMs: 600_000 })
      if (r.code !== 0) log(`    warm-up on ${t.name} failed: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`)
    }
  }
}

function median (xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function compare (reference: Map<string, string>, got: Map<string, string>): string {
  if (got.size === 0) return '-'
  const differ = [...reference].filter(([p, h]) => got.get(p) !== h).map(([p]) => p)
  return differ.length === 0 ? `all ${reference.size} identical` : `${differ.length} of ${reference.size} differ (e.g. ${differ.slice(0, 2).join(', ')})`
}

export async function runBuildBench (): Promise<string> {
  const started = new Date()
  const why = ensurePeers()
  for (const c of ['make', 'gcc', 'dpkg-deb', 'tar', 'xz']) if (!have(c)) throw new Error(`${c} is not installed (apt-get install ${c === 'xz' ? 'xz-utils' : c})`)
  const src = source()
  configured(src)
  await mkdir(CACHE, { recursive: true })
  let cluster: NamespaceCluster | undefined
  const runs: Run[] = []
  let profile = ''
  try {
    log(`bench/build: ${VERSION} ${TARGETS.join(' ')}, make -j${JOBS}, three hosts of ${CPUS} CPU${QUICK ? ', quick (one run each)' : `, ${RUNS} runs each`}`)
    if (KEEP != null) await mkdir(KEEP, { recursive: true })
    cluster = await createNamespaceCluster({
      nodes: ['a', 'b', 'c'].map(name => ({ name, cpus: CPUS })),
      links: [['a', 'b'], ['b', 'c'], ['a', 'c']],
      cpuPeriodUs: CPU_PERIOD_US,
      log
    })
    await settle('metrics on every node', async () => {
      for (const n of cluster!.nodes) {
        const s = await n.json(['status'])
        if (s.sysmetric == null || s.neighbours.some((x: any) => x.live !== true)) return false
      }
      return true
    })
    const a = cluster.node('a')
    const [b, c] = [cluster.node('b'), cluster.node('c')]
    const PATH = process.env.PATH ?? '/usr/bin:/bin'
    await markWorkspace()
    const shims = join(CACHE, 'kappa-shims')
    await rm(shims, { recursive: true, force: true })
    const wrapped = await a.exec([LAUNCHER, 'wrap', '--home', a.home, '--dir', shims, ...COMPILERS])
    if (wrapped.code !== 0) throw new Error(`kappa-node wrap failed: ${wrapped.stderr}`)
    if (why.distcc == null && (ONLY == null || ONLY.includes('distcc'))) why.distcc = await startDistcc(cluster)
    if (why.icecc == null && (ONLY == null || ONLY.includes('icecream'))) why.icecc = await startIcecream(cluster)
    const legs: Leg[] = [
      { name: 'local (A alone)', env: { PATH } },
      { name: 'distcc', unavailable: why.distcc, env: { PATH: `/usr/lib/distcc:${PATH}`, DISTCC_HOSTS: `${a.ip}/2 ${b.ip}/2 ${c.ip}/2`, DISTCC_DIR } },
      { name: 'icecream', unavailable: why.icecc, env: { PATH: `/usr/lib/icecc/bin:${PATH}`, HOME: join(CACHE, 'icecc-home') } },
      { name: 'kappa (wrap)', env: { PATH: `${shims}:${PATH}` } }
    ]
    for (let i = 0; i < RUNS; i++) {
      for (const leg of legs) {
        if (leg.unavailable != null || (ONLY != null && !ONLY.includes(leg.name.split(' ')[0]))) continue
        log(`  run ${i + 1}/${RUNS}: ${leg.name}…`)
        const r = await buildOnce(a, leg, leg.name.startsWith('kappa') ? async () => await warmKappa(a, [b, c]) : undefined, [a, b, c])
        runs.push(r)
        log(`    ${fmt(r.seconds)} s${r.ok ? '' : ` FAILED: ${r.note}`}${leg.name.startsWith('kappa') ? ` (${r.remote} placed on B/C, ${r.fellBack} ran on A after a remote failure)` : ''}`)
      }
    }
    profile = phaseProfile([b, c].flatMap(n => {
      try { return readFileSync(join(n.home, 'jobs.log'), 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l)) } catch { return [] }
    }), 'changes', 'on B and C (the target\'s job log `phases`, each step\'s own ms; the whole: from the stream\'s opening to the change set sent)')
    if (process.env.BUILD_DUMP != null) await writeFile(process.env.BUILD_DUMP, JSON.stringify(a.events.filter(e => e.type === 'job-placed' || e.type === 'job-ended')))
    const sentAway = a.events.filter(e => e.type === 'job-ended' && e.job?.direction === 'out').map(e => e.job)
    const bytes = (dir: 'bytesSent' | 'bytesReceived', kind: string): string => formatBytes(sentAway.reduce((n, j) => n + (j[dir]?.[kind] ?? 0), 0))
    log(`  A's ${sentAway.length} jobs placed elsewhere moved: workspace ${bytes('bytesSent', 'workspace')} out, ${bytes('bytesReceived', 'workspace')} back; executables ${bytes('bytesSent', 'executable')}; stdio ${bytes('bytesSent', 'stdio')} out, ${bytes('bytesReceived', 'stdio')} back`)
    profile += '\n\n' + phaseProfile(sentAway, 'exit', 'on A, the origin (its job records\' `phases`, each step\'s own ms from the request on the control socket: toolchain identity, its turn to place, the probe, the workspace snapshot, the target\'s STARTED, the exit with the change set applied)')
  } finally {
    if (KEEP != null && cluster != null) {
      for (const n of cluster.nodes) {
        try { execFileSync('cp', ['-a', n.home, join(KEEP, n.name)]) } catch (err) { log(`BUILD_KEEP: ${errorMessage(err)}`) }
      }
      await writeFile(join(KEEP, 'a-events.json'), JSON.stringify(cluster.node('a').events)).catch((err) => { log(`BUILD_KEEP: ${errorMessage(err)}`) })
    }
    await cluster?.stop()
  }
  const reference = runs.find(r => r.leg.startsWith('local') && r.ok)?.objects ?? new Map<string, string>()
  const localMedian = median(runs.filter(r => r.leg.startsWith('local') && r.ok).map(r => r.seconds))
  const localCpu = median(runs.filter(r => r.leg.startsWith('local') && r.ok).map(r => r.originCpu))
  const rows: string[] = []
  const medians: Record<string, number> = {}
  for (const name of ['local (A alone)', 'distcc', 'icecream', 'kappa (wrap)']) {
    const mine = runs.filter(r => r.leg === name)
    const unavailable = name === 'distcc' ? why.distcc : name === 'icecream' ? why.icecc : undefined
    if (mine.length === 0) { rows.push(`| ${name} | - | - | - | could not run: ${unavailable ?? 'not run'} |`); continue }
    const good = mine.filter(r => r.ok)
    const m = median(good.map(r => r.seconds))
    medians[name] = m
    const notes: string[] = []
    if (good.length < mine.length) notes.push(`${mine.length - good.length} of ${mine.length} failed: ${mine.find(r => !r.ok)?.note ?? ''}`)
    if (name.startsWith('kappa')) {
      notes.push(`compiles placed on B/C per run: ${mine.map(r => r.remote).join(', ')}; of them failed there and ran on A (one line each): ${mine.map(r => r.fellBack).join(', ')}`)
    }
    if (!name.startsWith('local')) {
      // a peer that silently compiles everything on A (distcc without its state directory did) is no comparison
      const others = median(good.map(r => r.othersCpu))
      notes.push(`B and C used ${fmt(others, 1)} CPU s`)
      if (others < 0.1 * localCpu) notes.push(`NOT A VALID FIGURE: B and C did almost no work (a local build used ${fmt(localCpu, 1)} CPU s on A)`)
    }
    rows.push(`| ${name} | ${good.map(r => fmt(r.seconds)).join(', ') || '-'} | ${fmt(m)} | ${fmt(localMedian / m, 2)}× | ${compare(reference, good[good.length - 1]?.objects ?? new Map())}${notes.length > 0 ? `; ${notes.join('; ')}` : ''} |`)
  }
  const kappa = medians['kappa (wrap)']
  const goals = [
    `kappa's speedup over local ${fmt(localMedian / kappa, 2)}× (goal ≥ 2.0×)`,
    medians.distcc != null ? `kappa / distcc ${fmt(kappa / medians.distcc, 2)} (goal ≤ 1)` : 'distcc did not run',
    medians.icecream != null ? `kappa / icecream ${fmt(kappa / medians.icecream, 2)} (goal ≤ 1)` : 'icecream did not run'
  ]
  const markdown = [
    `## Builds — ${VERSION} (Debian binutils-source) with make -j${JOBS}${QUICK ? ' (--quick: libiberty only, one run)' : ''}`,
    '',
    `Run ${started.toISOString()} on ${machine()}. Three namespaced hosts A, B, C with ${CPUS} CPU each (cgroup quotas, CFS period ${(CPU_PERIOD_US ?? 100_000) / 1000} ms), all paired; built from A in one directory, a fresh copy of a tree configured once (\`${['configure', ...CONFIGURE].join(' ')}\`), \`make -j${JOBS} ${TARGETS.join(' ')} MAKEINFO=true\`, runs alternating between the ways; times are wall seconds of the make, medians over ${RUNS} run${RUNS === 1 ? '' : 's'}. distcc: distccd on every host, plain mode, \`DISTCC_HOSTS="A/2 B/2 C/2"\`, its masquerade directory first on PATH. icecream: icecc-scheduler on A, iceccd -m 2 on every host, its masquerade directory first on PATH. kappa: \`kappa-node wrap ${COMPILERS.join(' ')}\` shims first on PATH, every daemon with its defaults. Objects: every \`.o\` compared with the first local build's.`,
    '',
    '| way | runs (s) | median (s) | speedup | objects vs local; notes |',
    '| --- | --- | ---: | ---: | --- |',
    ...rows,
    '',
    `Goals (issue 13): ${goals.join('; ')}.`,
    '',
    profile,
    ''
  ].join('\n')
  return markdown
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  requireRoot('bench/build')
  runBuildBench().then(async (markdown) => {
    process.stdout.write(markdown)
    await mkdir(join(REPO, 'bench/results'), { recursive: true })
    // the run's own section is rewritten; notes written below it (from a "## Notes" heading on) are kept
    const file = join(REPO, 'bench/results/build.md')
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : ''
    const notes = previous.indexOf('\n## Notes')
    await writeFile(file, `# bench/build\n\n${markdown.trimEnd()}\n${notes >= 0 ? previous.slice(notes) : ''}`)
    await updateResultsSection(join(REPO, 'bench/RESULTS.md'), 'build', markdown)
  }, (err) => { console.error(err); process.exitCode = 1 })
}

