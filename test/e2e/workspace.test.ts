/**
 * The workspace end to end, on two daemons (issue 10's acceptance 1–4):
 * each program run with `run --remote` leaves the same stdout, stderr, exit
 * status and workspace as a local run of it in a copy of the same
 * workspace; a real C project builds through wrap shims with every compile
 * on the target; an unchanged workspace costs no content; and the origin
 * refuses what a lying target sends back.
 */
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { mkdir, writeFile, chmod, symlink, readFile, readdir, rm, stat } from 'node:fs/promises'
import { existsSync, readdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode, pairNodes, cleanup, tmpDir, cli, gossipLive, until, type TestNode, PAIR_DELAY, HAS_BWRAP } from '../helpers/node.js'
import { runJob, startJob, jobLog, type JobResult } from '../helpers/run.js'
import { libp2pClient } from '../helpers/client.js'
import { describeTree, writeTree, copyTree, manualClock } from '../helpers/workspace.js'
import { startDaemon, type Daemon } from '../../src/daemon/index.js'
import { FrameChannel } from '../../src/migrate/channel.js'
import { Frame, Change } from '../../src/wire/migrate.js'
import { PROTOCOL_MIGRATE } from '../../src/constants.js'
import { hex, sha256 } from '../../src/workspace/index.js'

const hasBwrap = HAS_BWRAP
const isRoot = process.getuid?.() === 0
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin'

/** The program run here, as a shell would, in `cwd`. */
async function runLocally (argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<JobResult> {
  return await new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => { err += String(d) })
    child.on('close', (code, signal) => { resolve({ code, signal, stdout: Buffer.concat(out), stderr: err }) })
  })
}

describe('workspace end to end (two daemons)', function () {
  this.timeout(600_000)

  describe('on one pair: A busy, B idle', () => {
    let a: TestNode
    let b: TestNode
    before(async function () {
      if (!hasBwrap) {
        console.log('      skipped: bubblewrap (bwrap) is not installed; .ci/run installs it')
        this.skip()
      }
      ;[a, b] = await Promise.all([
        startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
        startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '148', '--max-jobs', '8'] })
      ])
      await pairNodes(a, b)
      await gossipLive(a, b)
    })
    // each test starts with B live on A (on a loaded machine a late gossip round can drop it for a moment)
    beforeEach(async function () { if (a != null && b != null) await gossipLive(a, b) })
    after(cleanup)

    it('acceptance 1: seven programs give the same output, status and workspace as a local run', async () => {
      const outside = await tmpDir('kappa-outside-')
      await writeFile(join(outside, 'data.txt'), 'read from outside the workspace\n')
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: SYSTEM_PATH, MYVAR: 'hello kappa', LC_ALL: 'C' }
      delete env.DISPLAY
      delete env.SSH_AUTH_SOCK
      const cases: Array<{ name: string, files: Record<string, string>, argv: string[], setup?: (dir: string) => Promise<void> }> = [
        { name: 'tr through redirections', files: { 'in.txt': 'make me loud\n' }, argv: ['sh', '-c', 'tr a-z A-Z < in.txt > out.txt'] },
        {
          name: 'a compile with a header only #included, into an existing build/',
          files: { 'include/a.h': '#define ANSWER 42\nint answer(void);\n', 'src/a.c': '#include "a.h"\nint answer(void) { return ANSWER; }\n', 'build/.keep': '' },
          argv: ['cc', '-Iinclude', '-c', 'src/a.c', '-o', 'build/a.o']
        },
        {
          name: 'python importing a module beside it',
          files: { 'tool.py': 'import helper\nprint(helper.greet("kappa"))\nopen("result.txt", "w").write("done\\n")\n', 'helper.py': 'def greet(who):\n    return "hello " + who\n' },
          argv: ['python3', 'tool.py']
        },
        {
          name: 'rm, mv, chmod +x, ln -s, mkdir -p',
          files: { old: 'old\n', a: 'A\n', c: 'echo c\n' },
          argv: ['sh', '-c', 'rm old; mv a b; chmod +x c; ln -s c d; mkdir -p e/f']
        },
        { name: 'an environment variable', files: {}, argv: ['sh', '-c', 'echo "MYVAR=$MYVAR"; test -z "$DISPLAY$SSH_AUTH_SOCK" && echo clean'] },
        { name: 'a file outside the workspace named by its absolute path', files: {}, argv: ['cat', join(outside, 'data.txt')] },
        { name: 'a script printing its own $0', files: { 'show0.sh:755': '#!/bin/sh\necho "$0"\necho "$0" > zero.txt\n' }, argv: ['./show0.sh'] }
      ]
      for (const c of cases) {
        const here = await tmpDir('kappa-ws-')
        await writeTree(here, { '.kappa-workspace': '', ...c.files })
        const copy = await tmpDir('kappa-ws-copy-')
        copyTree(here, copy)
        const local = await runLocally(c.argv, copy, env)
        const remote = await runJob(a, ['--remote', '--', ...c.argv], { cwd: here, env: { ...env, DISPLAY: ':0', SSH_AUTH_SOCK: '/tmp/agent' } })
        assert.equal(remote.stderr, local.stderr, `${c.name}: stderr`)
        assert.equal(remote.stdout.toString(), local.stdout.toString(), `${c.name}: stdout`)
        assert.equal(remote.code, local.code, `${c.name}: exit status`)
        assert.deepEqual(await describeTree(here), await describeTree(copy), `${c.name}: the workspace afterwards`)
      }
      const log = await jobLog(b)
      assert.equal(log.length, cases.length, 'every one ran on B')
      assert.ok(log.every(j => j.exit === 0 && j.sandbox === 'bwrap'), JSON.stringify(log.map(j => [j.argv, j.exit, j.error])))
      // what the first ones printed, to be sure the comparison compared something
      assert.match(JSON.stringify(log.map(j => j.argv[0])), /"sh".*"cc".*"python3"/)

      // $0 of a script started by its absolute path is that path, not a cache path
      const ws = await tmpDir('kappa-ws-')
      await writeTree(ws, { '.kappa-workspace': '', 'bin/show0.sh:755': '#!/bin/sh\necho "$0"\n' })
      const abs = await runJob(a, ['--remote', '--', join(ws, 'bin/show0.sh')], { cwd: ws, env })
      assert.equal(abs.stdout.toString(), `${join(ws, 'bin/show0.sh')}\n`)
    })

    it('outside the workspace: --input travels read-only, --output comes back; jobs sent, run here and run for others are in the job events', async () => {
      const ws = await tmpDir('kappa-ws-')
      await writeTree(ws, { '.kappa-workspace': '' })
      const inputs = await tmpDir('kappa-in-')
      await writeTree(inputs, { 'a.txt': 'A\n', 'b.txt': 'B\n' })
      const results = await tmpDir('kappa-out-')
      const result = join(results, 'result.txt')
      const env = { ...process.env, PATH: SYSTEM_PATH }
      const r = await runJob(a, ['--remote', '--input', inputs, '--output', result, '--', 'sh', '-c', `cat ${inputs}/*.txt > ${result}; (echo x > ${inputs}/a.txt) 2>/dev/null || echo read-only`], { cwd: ws, env })
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.toString(), 'read-only\n')
      assert.equal(await readFile(result, 'utf8'), 'A\nB\n')
      assert.equal(await readFile(join(inputs, 'a.txt'), 'utf8'), 'A\n')
      const sent = await a.waitForEvent(e => e.type === 'job-ended' && e.job.direction === 'out' && e.job.argv.some((x: string) => x.includes('read-only')))
      assert.equal(sent.job.outcome, 'ok')
      assert.equal(sent.job.target, b.id)
      assert.ok(sent.job.bytesSent.workspace > 0 && sent.job.bytesReceived.stdio === 'read-only\n'.length, JSON.stringify(sent.job))
      const ran = await b.waitForEvent(e => e.type === 'job-ended' && e.job.direction === 'in' && e.job.argv.some((x: string) => x.includes('read-only')))
      assert.equal(ran.job.origin, a.id)
      assert.equal(ran.job.exitCode, 0)
      // --no-env keeps a variable home, --env sends a host-specific one anyway
      const chosen = await runJob(a, ['--remote', '--no-env', 'MYVAR', '--env', 'DISPLAY', '--', 'sh', '-c', 'echo "[$MYVAR][$DISPLAY][$HOME]"'], { cwd: ws, env: { ...env, MYVAR: 'x', DISPLAY: ':9' } })
      assert.equal(chosen.stdout.toString(), '[][:9][/tmp]\n', chosen.stderr)
      // a command the daemon sends back to run here: the client reports how it ended
      const missing = await runJob(a, ['--', 'no-such-command-kappa'], { cwd: ws, env })
      assert.equal(missing.code, 127)
      const here = await a.waitForEvent(e => e.type === 'job-ended' && e.job.direction === 'local' && e.job.argv[0] === 'no-such-command-kappa')
      assert.equal(here.job.exitCode, 127)
      assert.match(here.job.reason, /command not found/)
    })

    it('acceptance 3: an unchanged workspace sends no content; one changed file of 5000 sends that blob and the directories on its path', async () => {
      const ws = await tmpDir('kappa-ws-')
      const files: Record<string, string> = { '.kappa-workspace': '' }
      for (let d = 0; d < 50; d++) for (let f = 0; f < 100; f++) files[`d${String(d).padStart(2, '0')}/f${String(f).padStart(3, '0')}.txt`] = `file ${d}/${f}\n`
      await writeTree(ws, files)
      const env = { ...process.env, PATH: SYSTEM_PATH }
      const before = (await jobLog(b)).length
      const first = await runJob(a, ['--remote', '--', 'cat', 'd00/f000.txt'], { cwd: ws, env })
      // (what each side recorded, should the first sync fail: where its time went)
      assert.equal(first.stdout.toString(), 'file 0/0\n', first.code === 0 ? first.stderr : `${first.stderr}${JSON.stringify((await jobLog(b)).slice(before))}\n${JSON.stringify(a.events.filter(e => e.type === 'job-ended').slice(-1))}`)
      const second = await runJob(a, ['--remote', '--', 'cat', 'd00/f000.txt'], { cwd: ws, env })
      assert.equal(second.stdout.toString(), 'file 0/0\n', second.stderr)
      await writeFile(join(ws, 'd17/f042.txt'), 'changed\n')
      const sentBefore = (await a.json(['status'])).jobs.counters.workspaceBytesSent
      const third = await runJob(a, ['--remote', '--', 'cat', 'd17/f042.txt'], { cwd: ws, env })
      assert.equal(third.stdout.toString(), 'changed\n', third.stderr)
      const sentAfter = (await a.json(['status'])).jobs.counters.workspaceBytesSent
      const [one, two, three] = (await jobLog(b)).slice(before)
      // 5000 distinct contents (the empty marker is in every store) in 51 directories
      assert.equal(one.workspaceBlobsReceived, 5000)
      assert.equal(one.workspaceDirectoriesReceived, 51)
      assert.deepEqual([two.workspaceBlobsReceived, two.workspaceDirectoriesReceived, two.workspaceBytesReceived], [0, 0, 0])
      assert.equal(two.exeBytesReceived, 0)
      assert.deepEqual([three.workspaceBlobsReceived, three.workspaceDirectoriesReceived], [1, 2])
      // the blob and the two directory messages (the root's and d17's), nothing else
      assert.ok(three.workspaceBytesReceived > 'changed\n'.length && three.workspaceBytesReceived < 'changed\n'.length + 200 * 60, String(three.workspaceBytesReceived))
      assert.equal(sentAfter - sentBefore, three.workspaceBytesReceived)
    })

    it('three jobs started at once to a target that has none of the workspace: its content travels once, not three times', async () => {
      const ws = await tmpDir('kappa-ws-')
      const files: Record<string, string> = { '.kappa-workspace': '' }
      // distinct contents (a shared one would be in B's store already): 400 files, ~1.6 MB
      for (let f = 0; f < 400; f++) files[`src/f${String(f).padStart(3, '0')}.txt`] = `${f} ${'x'.repeat(4000)}\n`
      await writeTree(ws, files)
      const env = { ...process.env, PATH: SYSTEM_PATH }
      const before = (await jobLog(b)).length
      const runs = await Promise.all([0, 1, 2].map(async i => await runJob(a, ['--remote', '--', 'head', '-c', '3', `src/f00${i}.txt`], { cwd: ws, env })))
      assert.deepEqual(runs.map(r => r.stdout.toString()), ['0 x', '1 x', '2 x'], runs.map(r => r.stderr).join(''))
      const jobs = (await jobLog(b)).slice(before)
      assert.equal(jobs.length, 3)
      const blobs = jobs.map(j => j.workspaceBlobsReceived as number)
      // one job brought all 400; the others, in turn after it, needed nothing more
      assert.deepEqual(blobs.sort((x, y) => y - x), [400, 0, 0])
    })

    it('acceptance 2: a real C project (minizip from Debian\'s binutils-source) builds with make -j4 through wrap shims, every compile on B, objects byte-identical to a local build', async function () {
      const tarball = existsSync('/usr/src/binutils') ? readdirSync('/usr/src/binutils').find(f => /^binutils-.*\.tar\.xz$/.test(f)) : undefined
      const libz = ['/usr/lib/x86_64-linux-gnu/libz.a', '/usr/lib/aarch64-linux-gnu/libz.a', '/usr/lib/libz.a'].find(p => existsSync(p))
      if (tarball == null || libz == null) {
        console.log('      skipped: needs Debian\'s binutils-source and zlib1g-dev (.ci/run installs them)')
        this.skip()
      }
      const top = await tmpDir('kappa-minizip-')
      execFileSync('tar', ['-xJf', join('/usr/src/binutils', tarball as string), '-C', top, '--wildcards', '*/zlib/*.h', '*/zlib/contrib/minizip/*'])
      const src = join(top, (await readdir(top))[0])
      await writeFile(join(src, '.kappa-workspace'), '')
      // its Makefile links with ../../libz.a: the system's zlib
      await symlink(libz as string, join(src, 'zlib/libz.a'))
      const dir = join(src, 'zlib/contrib/minizip')
      const tools = await tmpDir('kappa-wrap-')
      const wrapped = await cli(['wrap', '--home', a.home, '--dir', tools, 'cc'], { PATH: SYSTEM_PATH })
      assert.equal(wrapped.code, 0, wrapped.stderr)
      const make = (path: string): void => { execFileSync('make', ['-j4', 'CFLAGS=-g'], { cwd: dir, env: { ...process.env, PATH: path }, stdio: 'pipe' }) }
      const outputs = ['miniunz.o', 'unzip.o', 'ioapi.o', 'minizip.o', 'zip.o', 'miniunz', 'minizip']
      const digests = async (): Promise<string[]> => await Promise.all(outputs.map(async f => createHash('sha256').update(await readFile(join(dir, f))).digest('hex')))

      make(SYSTEM_PATH)
      const local = await digests()
      execFileSync('make', ['clean'], { cwd: dir })
      assert.equal(existsSync(join(dir, 'zip.o')), false)
      const before = (await jobLog(b)).length
      make(`${tools}:${SYSTEM_PATH}`)
      const remote = await digests()
      assert.deepEqual(remote.slice(0, 5), local.slice(0, 5), 'object files byte-identical')
      assert.deepEqual(remote, local, 'and the linked programs too')
      assert.equal((await stat(join(dir, 'minizip'))).mode & 0o111, 0o111)
      const jobs = (await jobLog(b)).slice(before)
      const placedHere = a.events.filter(e => e.type === 'job-placed' && e.where === 'local').map(e => e.reason)
      const compiles = jobs.filter(j => j.argv.includes('-c'))
      assert.deepEqual(placedHere, [], 'nothing ran on A')
      assert.deepEqual(compiles.map(j => j.argv.at(-1)).sort(), ['ioapi.c', 'miniunz.c', 'minizip.c', 'unzip.c', 'zip.c'])
      assert.ok(jobs.every(j => j.exit === 0), JSON.stringify(jobs.map(j => [j.argv, j.exit, j.error])))
      assert.equal(jobs.length, 7, 'five compiles and two links, all on B')
      // the compiler ran at the project's own path: its debug info names it
      assert.match(execFileSync('sh', ['-c', `strings -a ${join(dir, 'zip.o')} | grep -c ${dir} || true`]).toString(), /^[1-9]/)
    })
  })

  describe('a target that lies or goes silent (fake target with B\'s identity)', () => {
    let daemon: Daemon | undefined
    afterEach(async () => { await daemon?.stop(); daemon = undefined })
    afterEach(cleanup)

    it('acceptance 4: ../x, an absolute path, a path through a symlink, a file over the limits, more data than announced: one line, exit 255, nothing written; a silent target is given up (injected clock)', async function () {
      if (!isRoot && !hasBwrap) this.skip()
      // A in this process, with a clock the test moves
      const { clock, advance, pending } = manualClock(Date.now())
      const homeA = await tmpDir('kappa-a-')
      daemon = await startDaemon({ home: homeA, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, http: false, metricOverride: 37, delayMs: 100, json: true, logTo: new PassThrough().resume(), bulkPort: false, migration: { clock } })
      const a = { home: homeA, name: 'a' } as TestNode
      const b = await startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '148'] })
      const { invite } = await b.json(['invite'])
      assert.equal((await cli(['pair', invite, '--home', homeA])).code, 0)
      const bAddr = b.addrs.find(x => x.includes('127.0.0.1')) as string
      await b.kill('SIGKILL')

      // the fake: B's key on B's address, answering as a target would, then sending what a test case says
      let behave: (ch: FrameChannel) => Promise<void> = async () => {}
      let startedJobs = 0
      const fake = await libp2pClient(b.home, [bAddr.split('/p2p/')[0]])
      await fake.handle(PROTOCOL_MIGRATE, async (stream) => {
        const ch = new FrameChannel(stream)
        try {
          const req = await ch.read()
          for (let i = 0; i < (req.job?.treeFrames ?? 0); i++) await ch.read()
          await ch.write({ type: Frame.Type.ACCEPT })
          await ch.write({ type: Frame.Type.STARTED, jobId: 'fake' })
          startedJobs++
          await behave(ch)
        } catch {
          ch.abort(new Error('done'))
        }
      })

      const ws = await tmpDir('kappa-ws-')
      const outside = await tmpDir('kappa-outside-')
      await writeTree(ws, { '.kappa-workspace': '', 'src/a.c': 'int a;\n' })
      await symlink(outside, join(ws, 'out'))
      const before = await describeTree(ws)
      const file = (path: string, content: string, size = Buffer.byteLength(content)): any => ({ kind: Change.Kind.FILE, path, digest: Uint8Array.from(sha256(Buffer.from(content))), size: BigInt(size), mode: 0o644 })
      const sendChanges = (changes: any[], bytes: number, blob?: { content: string, data: string }) => async (ch: FrameChannel): Promise<void> => {
        await ch.write({ type: Frame.Type.STDOUT, data: Buffer.from('job output\n') })
        await ch.write({ type: Frame.Type.CHANGES, changes: { changes, last: true, files: BigInt(changes.length), bytes: BigInt(bytes) } })
        if (blob != null) await ch.write({ type: Frame.Type.BLOB, blob: { digest: Uint8Array.from(sha256(Buffer.from(blob.content))), size: BigInt(Buffer.byteLength(blob.content)) }, data: Buffer.from(blob.data) })
        await ch.write({ type: Frame.Type.EXIT, code: 0 })
        // the stream stays open until the origin, having refused what it was sent, ends it
        for (const deadline = AbortSignal.timeout(10_000); ;) await ch.read(deadline)
      }
      const cases: Array<[string, (ch: FrameChannel) => Promise<void>, RegExp]> = [
        ['../x', sendChanges([file('../x', 'evil')], 4, { content: 'evil', data: 'evil' }), /outside the workspace/],
        ['an absolute path', sendChanges([file(join(outside, 'x'), 'evil')], 4, { content: 'evil', data: 'evil' }), /absolute path/],
        ['a path through a symlink', sendChanges([file('out/x', 'evil')], 4, { content: 'evil', data: 'evil' }), /goes through the symlink out/],
        ['a file over the limits', sendChanges([file('big.bin', 'x', 2 ** 40)], 2 ** 40), /over this origin's limit/],
        ['more data than announced', sendChanges([file('src/b.c', 'abc')], 3, { content: 'abc', data: 'abcdef' }), /more data than announced/]
      ]
      for (const [name, behaviour, pattern] of cases) {
        behave = behaviour
        const r = await runJob(a, ['--peer', 'b', '--', 'true'], { cwd: ws, env: { ...process.env, PATH: SYSTEM_PATH } })
        assert.equal(r.code, 255, `${name}: ${r.stderr}`)
        assert.match(r.stderr, pattern, name)
        assert.match(r.stderr, /nothing was written/, name)
        assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`)
        assert.deepEqual(await describeTree(ws), before, `${name}: nothing written in the workspace`)
        assert.deepEqual(await describeTree(outside), [], `${name}: nothing written outside`)
      }
      assert.equal(startedJobs, cases.length)

      // a target that started the job and then says nothing: given up after the deadline, 255, one line
      behave = async () => { await new Promise(resolve => setTimeout(resolve, 60_000)) }
      const silent = startJob(a, ['--peer', 'b', '--', 'true'], { cwd: ws, env: { ...process.env, PATH: SYSTEM_PATH } })
      await until('the fake target to start the silent job', async () => startedJobs === cases.length + 1, 20_000)
      await until('the origin to watch the job', async () => pending() > 0, 5000)
      advance(29_000)
      assert.equal(silent.proc.exitCode, null, 'not given up before the deadline')
      advance(1_000)
      const r = await silent.done
      assert.equal(r.code, 255)
      assert.match(r.stderr, /no word from b .* for 30 s while the job was running/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
      void multiaddr
      void rm
      void mkdir
      void chmod
      void hex
    })
  })
})
