import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { pbStream } from '@libp2p/utils'
import { startNode, pairNodes, cleanup, cleanupKept, sharedNodes, until, neighbour, gossipLive, tmpDir, type TestNode } from '../helpers/node.js'
import { runJob, jobLog, emptyJob } from '../helpers/run.js'
import { libp2pClient } from '../helpers/client.js'
import { ProbeRequest, ProbeResponse } from '../../src/wire/probe.js'
import { Frame } from '../../src/wire/migrate.js'
import { FrameChannel } from '../../src/migrate/channel.js'
import { MetricUpdate } from '../../src/wire/metric.js'
import { PROTOCOL_METRIC, PROTOCOL_MIGRATE, PROTOCOL_PROBE } from '../../src/constants.js'
import { PAPER_C } from '../../src/balance/index.js'

// the paper's chain: these tests pin its c (the default is DEFAULT_C)
const C = PAPER_C

/** A–B–C chain, A not paired with C, metrics pinned as in the paper's Table II/III scale. */
async function chain (delay: number, extra: string[] = []): Promise<[TestNode, TestNode, TestNode]> {
  const args = (m: number): string[] => ['--delay', String(delay), '--metric-override', String(m), '--hop-cost', String(C), ...extra]
  const [a, b, c] = await Promise.all([startNode('a', { args: args(37) }), startNode('b', { args: args(60) }), startNode('c', { args: args(148) })])
  await pairNodes(a, b)
  await pairNodes(c, b)
  return [a, b, c]
}

/**
 * Both ends have heard each other's gossip. No wall-clock budgets in this
 * file: how many delays convergence and expiry take is asserted on simulated
 * time (test/sim.test.ts) and the daemons are shown to place as the
 * simulator does (test/parity.test.ts); here, real processes must get there.
 */
async function live (x: TestNode, y: TestNode): Promise<void> {
  await gossipLive(x, y, SETTLE_MS)
}
/** a deadline for conditions only, never a measurement: generous for a loaded machine */
const SETTLE_MS = 60_000

/** C's metric pinned down to 20 on a converged chain: probes stop choosing C and settle on B, without loops. */
async function repinC ([a, b, c]: TestNode[], splitHorizon: boolean): Promise<void> {
  const delay = 100
  await until('the chain to converge', async () => neighbour(await a.json(['status']), b.id)?.dismetric === 148 - 2 * C, SETTLE_MS, 20)
  await live(a, b)
  await live(b, c)
  assert.equal((await a.json(['probe'])).target.id, c.id)

  await c.json(['pin', '20'])
  const t0 = Date.now()
  let firstNotC: number | undefined
  let firstB: number | undefined
  const outcomes: any[] = []
  while (Date.now() - t0 < SETTLE_MS) {
    const p = await a.json(['probe'])
    const delays = (Date.now() - t0) / delay
    outcomes.push(p)
    // no probe loops or overruns its TTL, whatever the gossip state
    assert.doesNotMatch(p.reason ?? '', /loop|ttl|forged|path-too-long/)
    if (p.path != null) {
      assert.equal(new Set(p.path).size, p.path.length, 'a node appears twice on the path')
      assert.ok(p.path.length <= 9)
    }
    const choseC = p.local === false && p.target.id === c.id
    if (!choseC && firstNotC == null) firstNotC = delays
    if (choseC) firstNotC = undefined
    if (p.local === false && p.target.id === b.id && firstB == null) firstB = delays
    if (firstB != null && firstNotC != null) break
  }
  // a reply carrying C's fresh 20 makes A run locally rather than migrate to C
  assert.ok(outcomes.some(p => p.local === true && p.target?.id === c.id && p.target.sysmetric === 20) || firstB != null)
  console.log(`      split horizon ${splitHorizon ? 'on ' : 'off'}: C no longer chosen after ${firstNotC?.toFixed(1)} delays; B chosen after ${firstB?.toFixed(1) ?? 'never'} delays (${outcomes.length} probes)`)
  assert.ok(firstNotC != null, 'probes from A stop choosing C')
  assert.ok(firstB != null, 'the overlay converges on B (paper Table III row 10)')
}

describe('load balancing over libp2p (Algorithms I–III, three processes)', function () {
  describe('on one chain (delay 100) the tests share, afresh after a test that changes it', () => {
    const chain100 = sharedNodes(async () => await chain(100))
    let a: TestNode
    let b: TestNode
    let c: TestNode
    beforeEach(async () => { [a, b, c] = await chain100.get() })
    afterEach(cleanup)
    after(cleanupKept)

    it('transitivity: A sees B\'s distribution metric 148 − 2c, and a probe walks A → B → C', async () => {
      const seen = await until('A to see C\'s value through B', async () => {
        const n = neighbour(await a.json(['status']), b.id)
        return n?.dismetric === 148 - 2 * C ? n : undefined
      }, SETTLE_MS, 20)
      assert.equal(seen.advertised, 148 - C)
      assert.equal(seen.sysmetric, 60)
      const status = await a.json(['status'])
      assert.equal(status.sysmetric, 37)
      assert.equal(status.sendProbe, 148 - 2 * C)

      await live(a, b)
      await live(b, c)
      const probe = await a.json(['probe'])
      assert.equal(probe.local, false)
      assert.deepEqual(probe.path, [a.id, b.id, c.id])
      assert.equal(probe.target.id, c.id)
      assert.equal(probe.target.sysmetric, 148)
      assert.ok(probe.target.addrs.length > 0)
    })

    it('a job sent with its probe to B, which relays it, runs on C two hops away: same output and exit code, and B runs nothing', async () => {
      await until('A to see C\'s value through B', async () => neighbour(await a.json(['status']), b.id)?.dismetric === 148 - 2 * C, SETTLE_MS, 20)
      await live(a, b)
      await live(b, c)
      const [onB, onC] = [(await jobLog(b)).length, (await jobLog(c)).length]
      const r = await runJob(a, ['--', 'sh', '-c', 'echo $((6 * 7)); echo err >&2; exit 3'], { cwd: await tmpDir() })
      assert.equal(r.stdout.toString(), '42\n')
      assert.equal(r.stderr, 'err\n')
      assert.equal(r.code, 3)
      const ran = (await jobLog(c)).slice(onC)
      assert.equal(ran.length, 1)
      assert.equal(ran[0].origin, a.id)
      assert.equal(ran[0].exit, 3)
      assert.deepEqual((await jobLog(b)).slice(onB), [])
      const placed = a.events.filter(e => e.type === 'job-placed' && e.where === 'remote').at(-1)
      assert.deepEqual(placed?.path, [a.id, b.id, c.id])
    })

    it('malformed and forged probe / metric frames are declined and the nodes go on; strangers are refused', async () => {
      await live(a, b)
      await live(b, c)
      const asA = await libp2pClient(a.home) // B's neighbour, misbehaving
      const connection = await asA.dial(multiaddr(b.addrs[0]))
      const ask = async (request: ProbeRequest): Promise<ProbeResponse> => {
        const messages = pbStream(await connection.newStream(PROTOCOL_PROBE))
        await messages.write(request, ProbeRequest)
        return await messages.read(ProbeResponse)
      }
      const base = { id: 'p1', origin: a.id, sender: a.id, path: [a.id], ttl: 7, timeoutMs: 1000, originProof: new Uint8Array(0) }
      const cases: Array<[string, ProbeRequest, RegExp]> = [
        ['forged path (does not start at origin)', { ...base, path: [c.id, a.id] }, /forged-path/],
        ['sender is not the connection\'s peer', { ...base, sender: c.id, path: [a.id, c.id] }, /sender-mismatch|forged/],
        ['oversized path', { ...base, path: [a.id, ...Array.from({ length: 40 }, (_, i) => `x${i}`), a.id] }, /path-too-long|forged/],
        ['TTL abuse', { ...base, ttl: 100000 }, /ttl/],
        ['loop back through B', { ...base, path: [a.id, b.id, a.id] }, /loop|forged/],
        ['empty ids', { ...base, id: '', origin: '' }, /malformed|forged/]
      ]
      // the same probes carried in a job's request (/kappa/migrate/3) get the same answers, and no job starts
      const askCarried = async (probe: Uint8Array): Promise<ProbeResponse> => {
        const channel = new FrameChannel(await connection.newStream(PROTOCOL_MIGRATE))
        await channel.write({ type: Frame.Type.REQUEST, job: emptyJob(), probe: probe as Uint8Array<ArrayBuffer> })
        const answer = await channel.read(AbortSignal.timeout(SETTLE_MS))
        channel.abort(new Error('done'))
        assert.equal(answer.type, Frame.Type.PROBE)
        return ProbeResponse.decode(answer.probeAnswer)
      }
      const jobsOnB = (await jobLog(b)).length
      for (const [what, request, reason] of cases) {
        for (const r of [await ask(request), await askCarried(ProbeRequest.encode(request))]) {
          assert.equal(r.status, ProbeResponse.Status.DECLINED, what)
          assert.match(r.reason, reason, what)
        }
      }
      for (const garbage of [randomBytes(40), Uint8Array.from([0x22, 0xff, 0xff, 0xff, 0x0f])]) {
        assert.equal((await askCarried(garbage)).reason, 'malformed-probe')
      }
      assert.equal((await jobLog(b)).length, jobsOnB)
      // garbage on both protocols, including oversized frames
      let fuzzed = 0
      for (let i = 0; i < 300; i++) {
        try {
          const stream = await connection.newStream(i % 2 === 0 ? PROTOCOL_PROBE : PROTOCOL_METRIC)
          stream.send(i % 3 === 0 ? Uint8Array.from([0xff, 0xff, 0xff, 0x0f, ...randomBytes(32)]) : randomBytes(1 + (i % 200)))
          if (i % 2 === 0) stream.abort(new Error('fuzz'))
          else await stream.close()
          fuzzed++
        } catch {
          // B may reset a stream before we finish writing garbage into it
        }
      }
      assert.ok(fuzzed > 250)
      // metric values that make no sense are ignored, not believed
      // the real A (the same key) reopens its metric stream after the fuzzing, and B keeps only the
      // newest one from a peer: if ours is replaced before the nonsense is written, write it again
      for (let attempt = 1; ; attempt++) {
        try {
          const metric = pbStream(await (await asA.dial(multiaddr(b.addrs[0]))).newStream(PROTOCOL_METRIC)).pb(MetricUpdate)
          await metric.write({ sendProbe: 1e300, sysmetric: -5, seq: 99999999999999n, delayMs: 1 })
          await metric.write({ sendProbe: Number.NaN, sysmetric: 1, seq: 1n, delayMs: 1 })
          break
        } catch (err) {
          if (attempt === 5) throw err
        }
      }
      await new Promise(resolve => setTimeout(resolve, 300))
      const onB = neighbour(await b.json(['status']), a.id)
      assert.ok(onB.advertised <= 1000, `B believed ${onB.advertised}`)
      // the real probe still works
      const probe = await a.json(['probe'])
      assert.deepEqual(probe.path, [a.id, b.id, c.id])
      assert.equal(b.proc.exitCode, null)

      // a non-neighbour (C's key towards A, and a stranger) gets no probe or metric stream
      for (const client of [await libp2pClient(c.home), await libp2pClient()]) {
        for (const protocol of [PROTOCOL_PROBE, PROTOCOL_METRIC]) {
          await assert.rejects(async () => {
            const conn = await client.dial(multiaddr(a.addrs[0]))
            const messages = pbStream(await conn.newStream(protocol))
            await messages.write({ ...base, sender: client.peerId.toString(), origin: client.peerId.toString(), path: [client.peerId.toString()] }, ProbeRequest)
            await messages.read(ProbeResponse)
          }, `${protocol} from a non-neighbour`)
        }
      }
    })

    it('re-pinning C to 20: probes stop choosing C and settle on B, without loops (split horizon on)', async () => {
      // it changes the chain: the next test starts another
      chain100.discard()
      await repinC([a, b, c], true)
    })

    it('after unpair A–B, B refuses A\'s kappa streams, even on a connection that was already open', async () => {
      // it changes the chain: the next test starts another
      chain100.discard()
      await until('B live on A', async () => neighbour(await a.json(['status']), b.id)?.live === true, SETTLE_MS, 20)
      const asA = await libp2pClient(a.home)
      const connection = await asA.dial(multiaddr(b.addrs[0]))
      // an open metric stream and a probe that works before the unpair
      const metric = pbStream(await connection.newStream(PROTOCOL_METRIC)).pb(MetricUpdate)
      await metric.write({ sendProbe: 40, sysmetric: 40, seq: BigInt(Date.now() * 10), delayMs: 100 })
      await b.json(['unpair', a.id])
      await until('B to refuse A', async () => {
        try {
          await metric.write({ sendProbe: 41, sysmetric: 41, seq: BigInt(Date.now() * 10), delayMs: 100 })
          const messages = pbStream(await connection.newStream(PROTOCOL_PROBE))
          await messages.write({ id: 'x', origin: a.id, sender: a.id, path: [a.id], ttl: 3, timeoutMs: 500 }, ProbeRequest)
          await messages.read(ProbeResponse)
          return false
        } catch {
          return true
        }
      }, SETTLE_MS, 20)
      assert.equal(neighbour(await b.json(['status']), a.id), undefined)
    })
  })

  describe('on chains of their own (another configuration)', () => {
    afterEach(cleanup)

    it('re-pinning C to 20: probes stop choosing C and settle on B, without loops (split horizon off)', async () => {
      await repinC(await chain(100, ['--no-split-horizon']), false)
    })

    it('kill B: A drops B from routing and its probes answer local', async () => {
      const delay = 300
      const [a, b, c] = await chain(delay)
      await live(a, b)
      await live(b, c)
      assert.equal((await a.json(['probe'])).local, false)
      await b.kill('SIGKILL')
      // A's own clock decides: B is dropped only once A has not heard it for 3 delays
      const n = await until('A to drop B', async () => {
        const view = neighbour(await a.json(['status']), b.id)
        return view?.live === false ? view : undefined
      }, SETTLE_MS, 50)
      assert.ok(n.lastSeenMs >= 3 * delay, `B dropped after ${n.lastSeenMs} ms of silence, before 3 delays`)
      const probe = await a.json(['probe'])
      assert.equal(probe.local, true)
      assert.match(probe.reason, /no-live-neighbour/)
    })
  })
})
