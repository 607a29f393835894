/**
 * Real builds through kappa (issue 13): wrap as distcc's masquerade (a shim
 * keeps its name, starts locally on the daemon's placement hint without
 * Node), and "never break a build" (a job kappa failed runs here once; a
 * failed remote compile is retried here, distcc's rule).
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNode, pairNodes, cleanup, cleanupKept, sharedNodes, until, tmpDir, cli, gossipLive, onCleanup, type TestNode, PAIR_DELAY, skipWithoutBwrap } from '../helpers/node.js'
import { processesMatching, jobLog } from '../helpers/run.js'
import { localSlots } from '../../src/balance/index.js'
import { LocalHint } from '../../src/daemon/hint.js'
import { decideRetry, isCompilerDriver } from '../../src/run/retry.js'
import { HeldOutput } from '../../src/run/held.js'
import { parseRunArgs } from '../../src/cli/run-main.js'
import { NATIVE_CLIENT, nativeArgs, runArgs } from '../../src/run/wrap.js'
import { findExecutable } from '../../src/host/requirements.js'

/** `cmd` run by a shell, as make runs a recipe: exit code, stdout, stderr. */
async function sh (script: string, opts: { cwd: string, env?: NodeJS.ProcessEnv }): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    const proc = spawn('sh', ['-c', script], { cwd: opts.cwd, env: { ...process.env, KAPPA_HOME: undefined, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    onCleanup(async () => { if (proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL') })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d) => { stdout += String(d) })
    proc.stderr.on('data', (d) => { stderr += String(d) })
    proc.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

async function wrap (node: TestNode, dir: string, commands: string[], extra: string[] = [], PATH = process.env.PATH ?? ''): Promise<string> {
  const r = await cli(['wrap', '--home', node.home, '--dir', dir, ...extra, ...commands], { PATH })
  assert.equal(r.code, 0, r.stderr)
  return dir
}

/** Two daemons: `a` where builds start, `b` better (pinned), gossiping every PAIR_DELAY ms. */
async function pair (aMetric: number, bMetric: number, bArgs: string[] = []): Promise<[TestNode, TestNode]> {
  const [a, b] = await Promise.all([
    startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', String(aMetric)] }),
    startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', String(bMetric), ...bArgs] })
  ])
  await pairNodes(a, b)
  await gossipLive(a, b)
  return [a, b]
}

function readlinkSafe (path: string): string | undefined {
  try { return readlinkSync(path) } catch { return undefined }
}

const kappaLines = (stderr: string): string[] => stderr.split('\n').filter(l => l.startsWith('kappa-node:'))

describe('builds: the placement hint (pure)', () => {
  it('local slots: as many jobs as here stays at least as good as the best neighbour', () => {
    // own value falls by 20 per extra job: 150, 130, 110, 90 …
    const own = (k: number): number => 150 - 20 * k
    assert.equal(localSlots(own, 100, 16), 3, '150, 130, 110 ≥ 100; 90 is not')
    assert.equal(localSlots(own, 150, 16), 1, 'a tie stays here (Algorithm II: local when own ≥ best)')
    assert.equal(localSlots(own, 151, 16), 0)
    assert.equal(localSlots(own, undefined, 16), 16, 'no live neighbour: every job runs here')
    assert.equal(localSlots(() => 200, 100, 8), 8, 'capped')
    assert.equal(localSlots(() => undefined, 100, 8), 0, 'own value unknown: ask the daemon')
    assert.equal(localSlots(() => Number.NaN, 100, 8), 0)
    assert.equal(localSlots(own, 100, 0), 0)
  })

  it('the hint file and its claims: a claim is counted once, old generations go, a stopped daemon leaves no hint', async () => {
    const home = await tmpDir()
    const claims: string[] = []
    let own = 150
    const hint = new LocalHint({ home, ownWith: (k) => own - 20 * k, best: () => 100, onClaim: (id) => { claims.push(id) }, log: () => {} })
    hint.start()
    const line = (await readFile(join(home, 'local-hint'), 'utf8')).trim().split(' ')
    assert.equal(line[1], '3')
    // two shims take slots 0 and 1 (what the shim's noclobber redirection does)
    await writeFile(join(home, 'local-claims', `${line[0]}.0`), '', { flag: 'wx' })
    await writeFile(join(home, 'local-claims', `${line[0]}.1`), '', { flag: 'wx' })
    await writeFile(join(home, 'local-claims', 'junk'), '')
    assert.equal(hint.sweep(), 2)
    assert.equal(hint.sweep(), 0, 'counted once')
    assert.deepEqual(claims, [`${line[0]}.0`, `${line[0]}.1`])
    own = 90
    const none = hint.publishNow()
    assert.deepEqual(none?.slots, 0)
    assert.deepEqual(hint.publishNow(), none, 'nothing changed, nothing taken: the same hint stays (no rewrite)')
    own = 150
    assert.deepEqual(hint.publishNow()?.slots, 3)
    own = 90
    hint.publishNow()
    assert.ok(!existsSync(join(home, 'local-claims', `${line[0]}.0`)), 'claims of old generations are removed')
    assert.deepEqual(hint.view(), { slots: 0, claimed: 2 })
    hint.stop()
    assert.ok(!existsSync(join(home, 'local-hint')))
  })
})

describe('builds: never break a build (distcc\'s rule)', () => {
  const base = { verdict: 'program' as const, where: 'remote' as const, status: 0, stdinUsed: false, interrupted: false, released: false }

  it('tells a compiler driver by its name', () => {
    for (const name of ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', '/usr/bin/cc', 'gcc-12', 'x86_64-linux-gnu-gcc-12', 'clang++-15', 'arm-none-eabi-g++']) assert.ok(isCompilerDriver(name), name)
    for (const name of ['distcc', 'icecc', 'ccache', 'tcc', 'make', 'sh', 'cc1', 'gcc-ar', 'ld', 'c++filt']) assert.ok(!isCompilerDriver(name), name)
  })

  it('runs here again when kappa failed the job, not when the program gave its verdict', () => {
    const lost = decideRetry('sh', { ...base, verdict: 'kappa', status: 255, reason: 'lost the connection to b' })
    assert.deepEqual(lost, { retry: true, say: 'lost the connection to b; running sh here instead', compile: false })
    assert.deepEqual(decideRetry('sh', { ...base, status: 3 }), { retry: false }, 'a script\'s exit 3 is its own: never run twice')
    assert.deepEqual(decideRetry('cc', { ...base, status: 1 }), { retry: true, compile: true }, 'a failed remote compile is compiled here again')
    assert.deepEqual(decideRetry('cc', { ...base, status: 0 }), { retry: false })
    assert.deepEqual(decideRetry('cc', { ...base, where: 'local', status: 1 }), { retry: false }, 'a local failure stands')
    assert.deepEqual(decideRetry('cc', { ...base, status: 130, interrupted: true }), { retry: false }, 'Ctrl-C is answered, not retried')
    assert.deepEqual(decideRetry('cc', { ...base, verdict: 'kappa', status: 255, reason: 'lost', stdinUsed: true }), { retry: false, say: 'lost' }, 'its input is gone')
    assert.deepEqual(decideRetry('cc', { ...base, verdict: 'kappa', status: 255, reason: 'lost', released: true }), { retry: false, say: 'lost' }, 'its output was shown')
  })

  it('the line after a local success quotes the remote run\'s first error line (the Node client; kappa-run.c does the same)', () => {
    const held = new HeldOutput(1 << 20)
    held.hold(1, Buffer.from('partial output\n'))
    held.hold(2, Buffer.from('In file included from x.c:1:\n'))
    held.hold(2, Buffer.from('gen.h:3:10: fatal error: \x1b[1mtable.h\x1b[0m: No such file or directory\n'))
    assert.equal(held.firstErrorLine(), 'gen.h:3:10: fatal error:  [1mtable.h [0m: No such file or directory')
    const plain = new HeldOutput(1 << 20)
    plain.hold(2, Buffer.from('\n  cc1: out of memory\n'))
    assert.equal(plain.firstErrorLine(), '  cc1: out of memory', 'no line says error: the first that says anything')
    assert.equal(new HeldOutput(1 << 20).firstErrorLine(), undefined)
    const long = new HeldOutput(1 << 20)
    long.hold(2, Buffer.from(`error: ${'x'.repeat(500)}\n`))
    assert.equal(long.firstErrorLine()?.length, 160)
  })

  it('run --retry-local and wrap pass it on', () => {
    assert.equal(parseRunArgs(['--retry-local', '--', 'cc'])?.retryLocal, true)
    assert.equal(parseRunArgs(['--', 'cc'])?.retryLocal, false)
    assert.deepEqual(runArgs({ env: ['CCACHE_DIR'] }), ['--retry-local', '--env', 'CCACHE_DIR'])
    assert.deepEqual(runArgs({ remote: true }), ['--remote'])
    assert.deepEqual(nativeArgs('cc', { env: ['CCACHE_DIR'] }), ['-r', '-c', '-e', 'CCACHE_DIR'])
    assert.deepEqual(nativeArgs('upcase', { peer: 'p', noEnv: ['X'], stdin: true }), ['-r', '-m', 'peer', '-p', 'p', '-E', 'X', '-i'])
    assert.deepEqual(nativeArgs('c++', { remote: true }), ['-m', 'remote', '-c'])
  })

  it('without a C compiler, wrap says so and its shims start the Node client', async () => {
    const dir = await tmpDir()
    const bin = join(dir, 'bin')
    await mkdir(bin)
    await symlink('/bin/sh', join(bin, 'sh'))
    const r = await cli(['wrap', '--home', join(dir, 'home'), '--dir', join(dir, 'shims'), 'sh'], { PATH: bin })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /the shims start Node for each command: no C compiler/)
    assert.ok(!existsSync(join(dir, 'shims', NATIVE_CLIENT)))
    const shim = await readFile(join(dir, 'shims', 'sh'), 'utf8')
    assert.ok(!shim.includes(NATIVE_CLIENT) && shim.includes(' run --home "$h" --retry-local -- sh "$@"'), shim)
  })
})

describe('builds: wrap and retry with real daemons', function () {
  this.timeout(180_000)
  afterEach(cleanup)
  after(cleanupKept)
  // B best and unsandboxed: the remote half of the first test, and the second (which kills B)
  const towardsB = sharedNodes(async () => await pair(37, 148, ['--no-sandbox']))

  it('a shim called as c++ behaves as c++ (its name kept), here on the hint without a daemon round trip and remotely', async () => {
    const cwd = await tmpDir()
    // unsandboxed jobs run as the job user: the origin's tools (on this same machine) must be reachable by it
    await chmod(cwd, 0o755)
    // a multi-call tool, as busybox: it behaves by the name it was called by
    const tools = join(cwd, 'tools')
    await mkdir(tools)
    await writeFile(join(tools, 'multi'), '#!/bin/sh\necho "called as ${0##*/}: $*"\n')
    await chmod(join(tools, 'multi'), 0o755)
    await symlink('multi', join(tools, 'upcase'))
    const PATH = `${tools}:${process.env.PATH ?? ''}`
    // A best: the hint lets every shim start here
    const [a, b] = await pair(148, 37, ['--no-sandbox'])
    const shims = await wrap(a, join(cwd, 'shims'), ['c++', 'upcase'], ['--env', 'CCACHE_DIR'], PATH)
    // with a C compiler here, every test below goes through the native client (src/run/kappa-run.c)
    if (findExecutable('cc', PATH) != null) assert.ok(existsSync(join(shims, NATIVE_CLIENT)), 'wrap built the native client')
    const env = { PATH: `${shims}:${PATH}` }
    await until('A\'s hint to offer slots', async () => (await a.json(['status'])).hint?.slots > 0)
    const before = (await a.json(['status'])).hint.claimed
    const here = await sh('c++ --version; upcase x y', { cwd, env })
    assert.equal(here.code, 0, here.stderr)
    assert.match(here.stdout, /^c\+\+ \(/, 'c++ prints its own name, not x86_64-linux-gnu-g++-12')
    assert.match(here.stdout, /called as upcase: x y\n$/)
    assert.equal(here.stderr, '')
    assert.equal((await a.json(['status'])).hint.claimed, before + 2, 'both started on the hint, counted by the daemon')
    assert.ok(!a.events.some(e => e.type === 'job-placed'), 'no placement asked of the daemon')

    // B best: the shim asks the daemon, the job runs on B under the same name
    const [a2, b2] = await towardsB.get()
    const shims2 = await wrap(a2, join(cwd, 'shims2'), ['c++', 'upcase'], [], PATH)
    const before2 = (await jobLog(b2)).length
    const there = await sh('c++ --version; upcase x y', { cwd, env: { PATH: `${shims2}:${PATH}` } })
    assert.equal(there.code, 0, there.stderr)
    assert.match(there.stdout, /^c\+\+ \(/)
    // (a script's $0 on the target is its origin path once the workspace branch lands; its argv[0] is already the name)
    assert.match(there.stdout, /called as .*: x y\n$/)
    const log = (await jobLog(b2)).slice(before2)
    assert.deepEqual(log.map(j => j.argv[0]), ['c++', 'upcase'], 'B ran them under the names they were called by')
    assert.ok(log.every(j => j.exit === 0))
    void b
  })

  it('a target killed in the middle of a wrapped compile: the build succeeds, with one line saying it ran here', async () => {
    const [a, b] = await towardsB.get()
    // (A may have placed jobs for an earlier test: this test's placements are the ones after)
    const placedSince = a.events.length
    const placed = (): any[] => a.events.slice(placedSince).filter(e => e.type === 'job-placed')
    const cwd = await tmpDir()
    // unsandboxed, the compile on B runs as the job user and reads the header at its path on this machine
    await chmod(cwd, 0o755)
    // the compile waits on a FIFO the test feeds only once the target is gone
    const fifo = join(cwd, 'value.h')
    execFileSync('mkfifo', [fifo])
    await writeFile(join(cwd, 'main.c'), `#include "${fifo}"\nint main (void) { return VALUE; }\n`)
    await writeFile(join(cwd, 'Makefile'), 'main.o: main.c\n\tcc -O2 -c main.c -o main.o\n')
    const shims = await wrap(a, join(cwd, 'shims'), ['cc'])
    const build = sh('make -s', { cwd, env: { PATH: `${shims}:${process.env.PATH ?? ''}` } })
    // the compiler runs on B: its driver and cc1 sit in B's job directory, cc1 waiting for the header
    const inB = async (): Promise<number[]> => (await processesMatching('')).filter(pid => {
      try { return readlinkSync(`/proc/${pid}/cwd`).startsWith(b.jobsDir) } catch { return false }
    })
    const cc1OnB = async (): Promise<boolean> => (await processesMatching('cc1')).some(pid => (readlinkSafe(`/proc/${pid}/cwd`) ?? '').startsWith(b.jobsDir))
    await until('the compile to run on B', cc1OnB, 30_000)
    // and A to know it started there (else its loss is a failure before the start: "running locally")
    await until('A to see the job started on B', async () => placed().some(e => e.where === 'remote'), 30_000)
    // B's machine goes away: the daemon and everything it ran (unsandboxed, its job outlives it)
    await b.kill('SIGKILL')
    const orphans = await inB()
    for (const pid of orphans) try { process.kill(pid, 'SIGKILL') } catch {}
    await until('B\'s compile to be gone', async () => orphans.every(pid => !existsSync(`/proc/${pid}/cwd`) || readlinkSafe(`/proc/${pid}/cwd`) == null))
    // only the local compile can read the header now
    await writeFile(fifo, '#define VALUE 0\n')
    const r = await build
    assert.equal(r.code, 0, r.stderr)
    const lines = kappaLines(r.stderr)
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0], /lost the connection to b .*; running cc here instead$/)
    // the object is what a local compile gives
    execFileSync('sh', ['-c', `printf '#define VALUE 0\\n' > ${fifo} & cc -O2 -c main.c -o local.o; wait`], { cwd })
    assert.deepEqual(await readFile(join(cwd, 'main.o')), await readFile(join(cwd, 'local.o')))
    assert.ok(placed().some(e => e.where === 'remote'), 'the compile was placed on B first')
  })

  it('a compile that fails only remotely is compiled here (one line); a real compile error and a script\'s failure are not run twice', async function () {
    // the fake toolchain sits in the workspace, which an unsandboxed job sees at another path
    skipWithoutBwrap(this)
    const [a, b] = await pair(37, 148)
    const cwd = await tmpDir()
    const tools = join(cwd, 'tools')
    await mkdir(tools)
    // a driver whose "toolchain" exists only here (KAPPA_* never travels with a job)
    await writeFile(join(tools, 'cc'), '#!/bin/sh\n[ -n "$KAPPA_TEST_HERE" ] || { echo "cc: fatal error: cannot execute cc1: not here" >&2; exit 1; }\ncase "$1" in bad) echo "bad.c:1: error: expected ;" >&2; exit 1 ;; esac\necho "compiled $1"\n')
    await writeFile(join(tools, 'kstep'), '#!/bin/sh\necho ran >> "$1"\nexit 3\n')
    await chmod(join(tools, 'cc'), 0o755)
    await chmod(join(tools, 'kstep'), 0o755)
    const PATH = `${tools}:${process.env.PATH ?? ''}`
    // wrap itself finds the system's cc first, and builds the native client with it; the shims then run the fake one
    const shims = await wrap(a, join(cwd, 'shims'), ['cc', 'kstep'], [], `${process.env.PATH ?? ''}:${tools}`)
    if (findExecutable('cc') != null) assert.ok(existsSync(join(shims, NATIVE_CLIENT)), 'wrap built the native client')
    const env = { PATH: `${shims}:${PATH}`, KAPPA_TEST_HERE: '1' }

    const good = await sh('cc good', { cwd, env })
    assert.equal(good.code, 0, good.stderr)
    assert.equal(good.stdout, 'compiled good\n')
    // the remote run's error, quoted in the one line: it names what differs there
    assert.deepEqual(kappaLines(good.stderr), ['kappa-node: cc failed on the remote node (exit 1: cc: fatal error: cannot execute cc1: not here) but succeeded here: that node\'s toolchain or files differ from this one\'s'])
    assert.deepEqual(good.stderr.split('\n').filter(l => l.includes('cannot execute cc1') && !l.startsWith('kappa-node: ')), [], 'the remote diagnostics were held back and dropped')

    const bad = await sh('cc bad', { cwd, env })
    assert.equal(bad.code, 1)
    assert.equal(bad.stderr, 'bad.c:1: error: expected ;\n', 'the local verdict, its diagnostics once, nothing else')

    const step = await sh('kstep out.txt', { cwd, env })
    assert.equal(step.code, 3)
    assert.equal(step.stderr, '')
    assert.equal(await readFile(join(cwd, 'out.txt'), 'utf8'), 'ran\n', 'run once, remotely')
    const log = (await readFile(join(b.home, 'jobs.log'), 'utf8')).trim().split('\n').map(l => JSON.parse(l))
    assert.equal(log.length, 3, 'all three were placed on B first')
    void readdirSync
  })
})
