import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile, copyFile, chmod } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { multiaddr } from '@multiformats/multiaddr'
import { pbStream } from '@libp2p/utils'
import { startNode, pairNodes, cleanup, cleanupKept, sharedNodes, until, tmpDir, cli, gossipLive, MAIN, type TestNode, PAIR_DELAY, HAS_BWRAP, skipWithoutBwrap } from '../helpers/node.js'
import { runJob, startJob, jobLog, processesMatching, emptyJob } from '../helpers/run.js'
import { libp2pClient, homeKey } from '../helpers/client.js'
import { proveOrigin } from '../../src/tickets/index.js'
import { Frame } from '../../src/wire/migrate.js'
import { ProbeRequest, ProbeResponse } from '../../src/wire/probe.js'
import { BULK_MIN_BYTES, MIGRATE_MAX_FRAME_BYTES, PROTOCOL_MIGRATE, PROTOCOL_PROBE } from '../../src/constants.js'
import { defaultConfig as yamuxDefaults } from '@chainsafe/libp2p-yamux/config'
import { FrameChannel } from '../../src/migrate/channel.js'

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const hasBwrap = HAS_BWRAP

const live = gossipLive

/**
 * The byte-exact transfers move 1.5 times the largest flow-control window on
 * their way, plus an odd tail (the last frame a partial one). The windows:
 * yamux lets a stream's receive window grow to 16 MiB (its
 * maxStreamWindowSize, the daemon's default); a migrate frame is at most
 * MIGRATE_MAX_FRAME_BYTES (8 MiB); the reader of a FrameChannel pauses its
 * stream at 4 MiB queued (HIGH_WATER) and a bulk connection at 1 MiB; a
 * bulk socket's sender waits past 4 MiB queued, as the daemon's write to the
 * run client does. No one of them holds the whole transfer, so each sender
 * has to wait for its receiver to reopen a window before it can finish (both
 * ways: stdout to the origin, stdin to the target), and a job passes
 * BULK_MIN_BYTES (1 MiB) early and moves the rest over a bulk connection.
 * 50 MiB proved nothing more and cost ~10 s a test.
 */
const BIG_TRANSFER_BYTES = Math.ceil(1.5 * Math.max(yamuxDefaults.streamOptions.maxStreamWindowSize, MIGRATE_MAX_FRAME_BYTES, BULK_MIN_BYTES)) + 4099

/** A busy (37), B better (148), paired, gossiping every PAIR_DELAY ms. */
async function busyAndBetter (bArgs: string[] = []): Promise<[TestNode, TestNode]> {
  const [a, b] = await Promise.all([
    startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
    startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '148', ...bArgs] })
  ])
  await pairNodes(a, b)
  await live(a, b)
  return [a, b]
}

describe('transparent process migration (kappa-node run, /kappa/migrate/3)', function () {
  this.timeout(120_000)

  describe('on one busy/idle pair the tests share (afresh after a test that kills B)', () => {
    const pair = sharedNodes(async () => await busyAndBetter())
    let a: TestNode
    let b: TestNode
    // each test starts with B live on A: on a loaded machine a late gossip round can drop B for a moment, and a job then runs here
    beforeEach(async () => { [a, b] = await pair.get(); await live(a, b) })
    afterEach(cleanup)
    after(cleanupKept)

    it('runs on B: stdout, stderr and exit status as if local (B\'s job log says so)', async () => {
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      const r = await runJob(a, ['--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { cwd })
      assert.equal(r.stdout.toString(), 'out\n')
      assert.equal(r.stderr, 'err\n')
      assert.equal(r.code, 3)
      const log = (await jobLog(b)).slice(before)
      assert.equal(log.length, 1)
      assert.equal(log[0].origin, a.id)
      assert.deepEqual(log[0].argv, ['sh', '-c', 'echo out; echo err >&2; exit 3'])
      assert.equal(log[0].exit, 3)
      assert.deepEqual(await jobLog(a), [])
      // jobs for others run below the node itself
      assert.equal((await runJob(a, ['--', 'nice'], { cwd })).stdout.toString(), '10\n')
    })

    it('more data than any flow-control window, binary, as stdout and as stdin, passes through byte-exact', async () => {
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      const data = randomBytes(BIG_TRANSFER_BYTES)
      const digest = sha(data)
      await writeFile(join(cwd, 'big.bin'), data)
      const out = await runJob(a, ['--', 'cat', 'big.bin'], { cwd })
      assert.equal(out.code, 0, out.stderr)
      assert.equal(out.stdout.length, data.length)
      assert.equal(sha(out.stdout), digest)
      const echoed = await runJob(a, ['--', 'sha256sum'], { cwd, stdin: data })
      assert.equal(echoed.code, 0, echoed.stderr)
      assert.equal(echoed.stdout.toString().split(' ')[0], digest)
      const piped = await runJob(a, ['--', 'cat'], { cwd, stdin: data })
      assert.equal(sha(piped.stdout), digest)
      const log = (await jobLog(b)).slice(before)
      assert.equal(log.length, 3)
      assert.equal(log.filter(j => j.exit === 0).length, 3)
      // past the first MiB (output from B, stdin to B, both) each job moved to a bulk connection, both ways
      assert.deepEqual(log.map(j => j.transport), Array(3).fill({ send: 'bulk', receive: 'bulk' }))
    })

    it('in a shell pipeline the output goes straight into the pipe; to a file through the client; a reader that leaves breaks the job\'s pipe', async () => {
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      const data = randomBytes(20 * 1024 * 1024)
      await writeFile(join(cwd, 'big.bin'), data)
      const kappa = `'${process.execPath}' '${MAIN}' run --home '${a.home}' --`
      const sh = (script: string): string => execFileSync('sh', ['-c', script], { cwd, timeout: 60_000 }).toString()
      assert.equal(sh(`${kappa} cat big.bin | sha256sum`).split(' ')[0], sha(data))
      sh(`${kappa} cat big.bin > copy.bin; echo done >> copy.bin`)
      assert.equal(sha(await readFile(join(cwd, 'copy.bin'))), sha(Buffer.concat([data, Buffer.from('done\n')])))
      // `yes` runs until its reader goes: here as locally, `head` leaving ends it (SIGPIPE)
      assert.equal(sh(`${kappa} yes kappa | head -n 2`), 'kappa\nkappa\n')
      const log = (await jobLog(b)).slice(before)
      assert.equal(log.length, 3)
      // killed by SIGPIPE (bubblewrap reports it as 128 + 13)
      assert.ok(log[2].signal === 'SIGPIPE' || log[2].exit === 141, JSON.stringify(log[2]))
      assert.deepEqual(await processesMatching('yes kappa'), [])
    })

    it('a file in the workspace is read remotely, and files written remotely (in a new subdirectory too) appear here', async function () {
      skipWithoutBwrap(this)
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      await writeFile(join(cwd, 'in.txt'), 'hello kappa\n')
      const r = await runJob(a, ['--', 'sh', '-c', 'tr a-z A-Z < "$1" > out.txt; mkdir -p sub; echo deep > sub/x.txt; pwd', 'sh', 'in.txt'], { cwd })
      assert.equal(r.code, 0, r.stderr)
      // the job saw the same working directory path as here
      assert.equal(r.stdout.toString().trim(), cwd)
      assert.equal(await readFile(join(cwd, 'out.txt'), 'utf8'), 'HELLO KAPPA\n')
      assert.equal(await readFile(join(cwd, 'sub/x.txt'), 'utf8'), 'deep\n')
      assert.equal(await readFile(join(cwd, 'in.txt'), 'utf8'), 'hello kappa\n')
      const log = (await jobLog(b)).slice(before)
      assert.equal(log.length, 1)
      assert.equal(log[0].outputs, 2)
    })

    it('the second run of the same executable transfers no executable bytes', async () => {
      const cwd = await tmpDir()
      const countersA = async (): Promise<any> => (await a.json(['status'])).jobs.counters
      const countersB = async (): Promise<any> => (await b.json(['status'])).jobs.counters
      // outside the workspace and outside the system directories: the target cannot use a file of its own
      const tools = await tmpDir()
      const printf = join(tools, 'printf')
      await copyFile('/usr/bin/printf', printf)
      await chmod(printf, 0o755)
      const size = (await readFile(printf)).length
      // (the pair ran other jobs before: what this test's jobs moved is the difference)
      const [received, sent, before] = [(await countersB()).exeBytesReceived, (await countersA()).exeBytesSent, (await jobLog(b)).length]
      assert.equal((await runJob(a, ['--', printf, 'x'], { cwd })).stdout.toString(), 'x')
      assert.equal((await countersB()).exeBytesReceived - received, size)
      assert.equal((await countersA()).exeBytesSent - sent, size)
      assert.equal((await runJob(a, ['--', printf, 'y'], { cwd })).stdout.toString(), 'y')
      assert.equal((await countersB()).exeBytesReceived - received, size)
      assert.equal((await countersA()).exeBytesSent - sent, size)
      const log = (await jobLog(b)).slice(before)
      assert.deepEqual(log.map(j => j.exeCached), [false, true])
    })

    it('a job cannot read the target\'s kappa home (bubblewrap sandbox)', async function () {
      if (!hasBwrap) {
        console.log('      skipped: bubblewrap (bwrap) is not installed; .ci/run installs it')
        this.skip()
      }
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      const status = await b.json(['status'])
      assert.equal(status.sandbox, 'bwrap')
      const r = await runJob(a, ['--', 'sh', '-c', `cat ${b.home}/identity.key; ls ${b.home}; echo "home=$HOME"; ls /root 2>&1 | head -1; exit 0`], { cwd })
      assert.equal(r.code, 0)
      assert.doesNotMatch(r.stdout.toString(), /trust\.json|identity\.key/)
      assert.match(r.stderr, /No such file or directory/)
      // and no network unless the node allows it
      const net = await runJob(a, ['--', 'sh', '-c', 'cat /proc/net/dev | grep -c ":" '], { cwd })
      assert.equal(net.stdout.toString().trim(), '1') // loopback only
      const log = (await jobLog(b)).slice(before)
      assert.equal(log.length, 2)
      assert.equal(log.every(j => j.sandbox === 'bwrap'), true)
    })

    it('make -j4 over four wrapped commands runs them through kappa with identical results', async function () {
      skipWithoutBwrap(this)
      const cwd = await tmpDir()
      const before = (await jobLog(b)).length
      const bin = join(cwd, 'tools')
      await (await import('node:fs/promises')).mkdir(bin)
      for (const [i, tool] of ['upper', 'lower', 'rev', 'count'].entries()) {
        const body = ['tr a-z A-Z', 'tr A-Z a-z', 'rev', 'wc -c'][i]
        await writeFile(join(bin, `k${tool}`), `#!/bin/sh\n${body} < "$1" > "$2"\n`)
        await chmod(join(bin, `k${tool}`), 0o755)
      }
      await writeFile(join(cwd, 'src.txt'), 'Make Me Distributed\n')
      await writeFile(join(cwd, 'Makefile'), [
        'all: a.out b.out c.out d.out',
        'a.out: src.txt\n\tkupper src.txt a.out',
        'b.out: src.txt\n\tklower src.txt b.out',
        'c.out: src.txt\n\tkrev src.txt c.out',
        'd.out: src.txt\n\tkcount src.txt d.out',
        ''
      ].join('\n'))
      const PATH = `${bin}:${process.env.PATH ?? ''}`
      const wrapDir = join(cwd, 'wrapped')
      const wrapped = await cli(['wrap', '--home', a.home, '--dir', wrapDir, 'kupper', 'klower', 'krev', 'kcount'], { PATH })
      assert.equal(wrapped.code, 0, wrapped.stderr)

      execFileSync('make', ['-j4', '-s'], { cwd, env: { ...process.env, PATH } })
      const local = await Promise.all(['a', 'b', 'c', 'd'].map(async x => await readFile(join(cwd, `${x}.out`), 'utf8')))
      execFileSync('rm', ['-f', 'a.out', 'b.out', 'c.out', 'd.out'], { cwd })
      execFileSync('make', ['-j4', '-s'], { cwd, env: { ...process.env, PATH: `${wrapDir}:${PATH}` } })
      const viaKappa = await Promise.all(['a', 'b', 'c', 'd'].map(async x => await readFile(join(cwd, `${x}.out`), 'utf8')))
      assert.deepEqual(viaKappa, local)
      assert.deepEqual(local, ['MAKE ME DISTRIBUTED\n', 'make me distributed\n', 'detubirtsiD eM ekaM\n', '20\n'])
      const log = (await jobLog(b)).slice(before)
      // a shim keeps the name it was called by (distcc's masquerade)
      assert.deepEqual(log.map(j => j.argv[0]).sort(), ['kcount', 'klower', 'krev', 'kupper'])
      assert.ok(log.every(j => j.exit === 0 && j.outputs === 1))
    })

    it('a target that stalls for 20 s (SIGSTOP, as a loaded machine can) keeps its connection and its job', async () => {
      const cwd = await tmpDir()
      const job = startJob(a, ['--', 'sh', '-c', 'echo started; sleep 2; echo done'], { cwd })
      let out = ''
      job.proc.stdout?.on('data', (d: Buffer) => { out += String(d) })
      await until('the job to run on B', async () => out.includes('started') && (await b.json(['status'])).jobs.in.length > 0)
      // libp2p pings every 10 s: 20 s is sure to pass its default ping timeout (5 s, then it aborted the connection and
      // every job on it), and is short of a job's liveness (30 s)
      b.proc.kill('SIGSTOP')
      await new Promise(resolve => setTimeout(resolve, 20_000))
      b.proc.kill('SIGCONT')
      const r = await job.done
      assert.equal(r.stderr, '')
      assert.equal(r.stdout.toString(), 'started\ndone\n')
      assert.equal(r.code, 0)
    })

    it('a target killed while its output streams over a bulk connection: the client exits 255 with one line', async () => {
      const cwd = await tmpDir()
      const job = startJob(a, ['--', 'sh', '-c', 'while :; do head -c 1048576 /dev/zero; done'], { cwd })
      let seen = 0
      job.proc.stdout?.on('data', (d: Buffer) => { seen += d.length })
      // on B, not here: killing B must be what ends it
      await until('output to flow past the first MiB from the job on B', async () => seen > 8 * 1024 * 1024 && (await b.json(['status'])).jobs.in.length > 0, 20_000)
      await b.kill('SIGKILL')
      const r = await job.done
      assert.equal(r.code, 255)
      assert.match(r.stderr, /lost the connection to b .* while the job was running/)
      // (once, under load, 3 lines: the message says which, should it happen again)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    })

    it('SIGINT reaches the remote job (exit 130); a killed client leaves no remote process; a killed target gives 255', async () => {
      const cwd = await tmpDir()
      // the job prints once it runs: output at the client proves it started there (B lists a job from admission on)
      const startRemote = (seconds: string): ReturnType<typeof startJob> => {
        const job = startJob(a, ['--', 'sh', '-c', `echo started; exec sleep ${seconds}`], { cwd })
        job.proc.stdout?.on('data', (d: Buffer) => { if (String(d).includes('started')) started.add(job) })
        return job
      }
      const started = new Set<ReturnType<typeof startJob>>()
      const runningOnB = async (job: ReturnType<typeof startJob>): Promise<boolean> => started.has(job) && (await b.json(['status'])).jobs.in.length > 0

      const first = startRemote('100.125')
      await until('the job to run on B', async () => await runningOnB(first))
      first.proc.kill('SIGINT')
      const r1 = await first.done
      assert.equal(r1.code, 130)
      await until('the remote sleep to be gone', async () => (await processesMatching('sleep 100.125')).length === 0, 2000)

      const second = startRemote('100.25')
      await until('the job to run on B', async () => await runningOnB(second))
      assert.ok((await processesMatching('sleep 100.25')).length > 1)
      second.proc.kill('SIGKILL')
      await second.done
      // no time budget (a loaded machine is slow): the sleep would last 100 s, past until's 60 s, so its going
      // at all is the killed client's doing
      await until('no remote process', async () => (await processesMatching('sleep 100.25')).length === 0, 3000, 20)

      const third = startRemote('100.5')
      await until('the job to run on B', async () => await runningOnB(third))
      await b.kill('SIGKILL')
      const r3 = await third.done
      assert.equal(r3.code, 255)
      assert.match(r3.stderr, /lost the connection to b .* while the job was running/)
      assert.equal(r3.stderr.trim().split('\n').length, 1)
      await until('B\'s sandbox to die with it', async () => (await processesMatching('sleep 100.5')).length === 0, 2000)
    })
  })

  describe('on nodes of their own (another configuration, or a third node)', () => {
    afterEach(cleanup)

    it('with bulk connections off, more data than any flow-control window, as stdout and as stdin, stays on the libp2p stream, byte-exact', async () => {
      const [a, b] = await busyAndBetter(['--no-bulk'])
      const cwd = await tmpDir()
      const data = randomBytes(BIG_TRANSFER_BYTES)
      const digest = sha(data)
      await writeFile(join(cwd, 'big.bin'), data)
      const out = await runJob(a, ['--', 'cat', 'big.bin'], { cwd })
      assert.equal(out.code, 0, out.stderr)
      assert.equal(sha(out.stdout), digest)
      const piped = await runJob(a, ['--', 'cat'], { cwd, stdin: data })
      assert.equal(sha(piped.stdout), digest)
      assert.deepEqual((await jobLog(b)).map(j => j.transport), [{ send: 'stream', receive: 'stream' }, { send: 'stream', receive: 'stream' }])
      assert.equal((await b.json(['status'])).bulkPort, null)
    })

    it('refuses a non-neighbour without a ticket, a reused ticket and an expired ticket', async () => {
      const [a, b, c] = await Promise.all([
        startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
        startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '60'] }),
        startNode('c', { args: ['--delay', PAIR_DELAY, '--metric-override', '148', '--ticket-ttl', '1500'] })
      ])
      await pairNodes(a, b)
      await pairNodes(c, b)
      await live(a, b)
      await live(b, c)
      const asA = await libp2pClient(a.home)
      const stranger = await libp2pClient()

      // no ticket: the gater or the handler refuses a stranger
      await assert.rejects(async () => {
        const conn = await stranger.dial(multiaddr(c.addrs[0]))
        const ch = new FrameChannel(await conn.newStream(PROTOCOL_MIGRATE))
        await ch.write({ type: Frame.Type.REQUEST, job: emptyJob() })
        await ch.read(AbortSignal.timeout(3000))
      })

      // a ticket, through the real probe path A → B → C
      const keyA = await homeKey(a.home)
      const getTicket = async (): Promise<Uint8Array> => {
        const conn = await asA.dial(multiaddr(b.addrs[0]))
        const messages = pbStream(await conn.newStream(PROTOCOL_PROBE))
        const id = randomBytes(4).toString('hex')
        await messages.write({ id, origin: a.id, sender: a.id, path: [a.id], ttl: 7, timeoutMs: 2000, originProof: await proveOrigin(keyA, id, a.id, b.id) }, ProbeRequest)
        const reply = await messages.read(ProbeResponse)
        assert.equal(reply.status, ProbeResponse.Status.REPLY, reply.reason)
        assert.equal(reply.target, c.id)
        return reply.ticket
      }
      const present = async (ticket: Uint8Array): Promise<Frame> => {
        const conn = await asA.dial(multiaddr(c.addrs[0]))
        const ch = new FrameChannel(await conn.newStream(PROTOCOL_MIGRATE))
        await ch.write({ type: Frame.Type.REQUEST, job: { ...emptyJob(), ticket: ticket as Uint8Array<ArrayBuffer> } })
        const answer = await ch.read(AbortSignal.timeout(5000))
        ch.abort(new Error('done'))
        return answer
      }
      // a spare ticket keeps A allowed to connect, so the refusals below come from the ticket check itself
      const ticket = await getTicket()
      await getTicket()
      assert.equal((await present(ticket)).type, Frame.Type.ACCEPT)
      const reused = await present(ticket)
      assert.equal(reused.type, Frame.Type.REFUSE)
      assert.match(reused.message, /unknown or already used migration ticket/)

      // a ticket does not make A C's neighbour: a probe carried in its request is declined, and nothing starts
      const carried = await (async () => {
        const conn = await asA.dial(multiaddr(c.addrs[0]))
        const ch = new FrameChannel(await conn.newStream(PROTOCOL_MIGRATE))
        const id = randomBytes(4).toString('hex')
        const probe = ProbeRequest.encode({ id, origin: a.id, sender: a.id, path: [a.id], ttl: 7, timeoutMs: 2000, originProof: await proveOrigin(keyA, id, a.id, c.id) })
        await ch.write({ type: Frame.Type.REQUEST, job: { ...emptyJob(), ticket: await getTicket() as Uint8Array<ArrayBuffer> }, probe })
        const answer = await ch.read(AbortSignal.timeout(5000))
        const after = await ch.read(AbortSignal.timeout(5000)).then(f => f.type, (err) => err)
        ch.abort(new Error('done'))
        return { answer, after }
      })()
      assert.equal(carried.answer.type, Frame.Type.PROBE)
      const declined = ProbeResponse.decode(carried.answer.probeAnswer)
      assert.equal(declined.status, ProbeResponse.Status.DECLINED)
      assert.equal(declined.reason, 'not-a-neighbour')
      // C ended the stream after its answer: no ACCEPT, no job
      assert.ok(carried.after instanceof Error, `C went on with ${String(carried.after)}`)

      const late = await getTicket()
      await new Promise(resolve => setTimeout(resolve, 1700))
      await getTicket()
      const expired = await present(late)
      assert.equal(expired.type, Frame.Type.REFUSE)
      assert.match(expired.message, /migration ticket expired/)

      // with no valid ticket left, C does not even let A connect
      await new Promise(resolve => setTimeout(resolve, 1700))
      await asA.hangUp(multiaddr(c.addrs[0])).catch(() => {})
      await assert.rejects(async () => { await present(late) })
    })

    it('over the concurrent-job limit B refuses: A runs the job locally, or fails with --remote', async () => {
      const [a, b] = await busyAndBetter(['--max-jobs', '1'])
      const cwd = await tmpDir()
      const long = startJob(a, ['--', 'sleep', '30.75'], { cwd })
      await until('the first job on B', async () => (await b.json(['status'])).jobs.in.length === 1)
      // a full node does not even offer itself to probes: A runs the job, quietly
      const local = await runJob(a, ['--', 'sh', '-c', 'echo ran'], { cwd })
      assert.equal(local.code, 0)
      assert.equal(local.stdout.toString(), 'ran\n')
      assert.equal(local.stderr, '')
      assert.match((await a.waitForEvent(e => e.type === 'job-placed' && e.where === 'local')).reason, /busy: 1 jobs running here \(limit 1\)/)
      // asked for by name, B refuses the job itself: A runs it, with one line saying why
      const named = await runJob(a, ['--peer', 'b', '--', 'sh', '-c', 'echo ran'], { cwd })
      assert.equal(named.code, 0)
      assert.equal(named.stdout.toString(), 'ran\n')
      assert.match(named.stderr, /running locally: b .* refused: busy: 1 jobs running here \(limit 1\)/)
      assert.equal(named.stderr.trim().split('\n').length, 1)
      const remote = await runJob(a, ['--remote', '--', 'sh', '-c', 'echo ran'], { cwd })
      assert.equal(remote.code, 1)
      assert.equal(remote.stdout.toString(), '')
      assert.match(remote.stderr, /busy: 1 jobs running here/)
      long.proc.kill('SIGINT')
      await long.done
      assert.equal((await jobLog(b)).filter(j => /busy/.test(j.refused ?? '')).length, 1)
    })

    it('with the daemon stopped, run falls back to a local run with one line (and --remote fails)', async () => {
      const home = await tmpDir()
      const cwd = await tmpDir()
      const fake = { home } as TestNode
      const r = await runJob(fake, ['--', 'sh', '-c', 'echo here; exit 4'], { cwd })
      assert.equal(r.code, 4)
      assert.equal(r.stdout.toString(), 'here\n')
      assert.match(r.stderr, /not running .*; running locally/)
      const remote = await runJob(fake, ['--remote', '--', 'true'], { cwd })
      assert.equal(remote.code, 1)
      assert.ok(!existsSync(join(cwd, 'x')))
      void copyFile
    })
  })
})
