import assert from 'node:assert/strict'
import { copyFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createMetricSampler, formatBreakdown, type MetricBreakdown, type MetricSamplerInit } from '../src/metric/index.js'
import { FIXTURES, fakeStaticScore, fixtureRoot, removeTempDirs, waitFor } from './metric-helpers.js'
import { createGossip, decideOrigin, originExtraJobs } from '../src/balance/index.js'

/** A sampler over a copy of fixture `name`, S = 100, a fake clock that the first window advances by 5 s. */
async function fixtureSampler (name: string, extra: Partial<MetricSamplerInit> = {}): Promise<{
  sampler: ReturnType<typeof createMetricSampler>, root: string, logs: string[], clock: { t: number }
}> {
  const { root, advance } = await fixtureRoot(name)
  const logs: string[] = []
  const clock = { t: 1_700_000_000_000 }
  const sampler = createMetricSampler({
    procRoot: root,
    cacheFile: join(root, 'benchmark.json'),
    benchmark: async () => fakeStaticScore(100),
    now: () => clock.t,
    sleep: async (ms) => { clock.t += ms; await advance() },
    log: (line) => { logs.push(line) },
    ...extra
  })
  return { sampler, root, logs, clock }
}

function close (actual: number, expected: number, what: string, tolerance = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`)
}

describe('metric sampler on /proc fixtures', () => {
  afterEach(removeTempDirs)

  it('idle: share 1, m 1, D 400, sysmetric 155 for the reference machine', async () => {
    const { sampler } = await fixtureSampler('idle')
    const b = await sampler.sample()
    assert.equal(b.cores, 2)
    assert.deepEqual(b.cpus, [0, 1])
    assert.equal(b.idleJiffies, 998)
    assert.equal(b.busyJiffies, 2)
    assert.equal(b.procsRunning, 1)
    assert.equal(b.running, 0, 'the sampler itself is not counted')
    assert.equal(b.share, 1)
    assert.equal(b.memFactor, 1)
    assert.equal(b.dynamic, 400)
    close(b.sysmetric, 155, 'sysmetric')
    assert.equal(b.windowMs, 5000)
    assert.equal(b.static, 100)
    assert.equal(sampler.current(), b)
  })

  it('one core with 4 CPU-bound processes: n 4, share 0.2, sysmetric 43', async () => {
    const { sampler } = await fixtureSampler('one-core-four-busy')
    const b = await sampler.sample()
    assert.equal(b.cores, 1)
    assert.equal(b.fIdle, 0)
    assert.equal(b.procsRunning, 5)
    assert.equal(b.running, 4)
    close(b.share, 0.2, 'share')
    close(b.dynamic, 80, 'D')
    close(b.sysmetric, 43, 'sysmetric')
    // The paper's Table II: idle B 140–150 vs loaded A 35–45; ours 155 vs 43.
  })

  it('two cores with one busy process: share 1', async () => {
    const { sampler } = await fixtureSampler('two-cores-one-busy')
    const b = await sampler.sample()
    assert.equal(b.cores, 2)
    close(b.fIdle, 0.5, 'f_idle')
    assert.equal(b.running, 1)
    assert.equal(b.share, 1)
  })

  it('memory at 5 % available with threshold 10 %: m 0.5, D 200', async () => {
    const { sampler } = await fixtureSampler('low-memory')
    const b = await sampler.sample()
    assert.equal(b.memAvailableKiB, 400000)
    assert.equal(b.memTotalKiB, 8000000)
    assert.equal(b.memThreshold, 0.10)
    close(b.memFactor, 0.5, 'm')
    close(b.dynamic, 200, 'D')
    close(b.sysmetric, (0.3 * 100 + 0.7 * 200) / 2, 'sysmetric')
  })

  it('counts only the CPUs it is told to (a process pinned to one core)', async () => {
    const { sampler } = await fixtureSampler('two-cores-one-busy', { cpus: [0] })
    const b = await sampler.sample()
    assert.equal(b.cores, 1)
    assert.equal(b.fIdle, 0)
    close(b.share, 0.5, 'one busy core shared with one process')
  })

  it('later samples take the delta from the previous reading', async () => {
    const { sampler, root, clock } = await fixtureSampler('one-core-four-busy')
    await sampler.sample()
    // Same counters again: no jiffies elapsed, so the last fractions stand.
    clock.t += 5000
    const again = await sampler.sample()
    close(again.share, 0.2, 'share kept')
    // 500 more idle jiffies: the window is idle now.
    await writeFile(join(root, 'stat'), 'cpu0 2669 0 1404 30203 15 0 13 4 0 0\nprocs_running 1\n')
    clock.t += 5000
    const idle = await sampler.sample()
    assert.equal(idle.fIdle, 1)
    assert.equal(idle.idleJiffies, 500)
    assert.equal(idle.windowMs, 5000)
    assert.equal(idle.procsRunning, 3, 'procs_running averaged over the window (5 and 1)')
    assert.equal(idle.share, 1)
  })

  it('pending work counts as running processes and recomputes the sysmetric at once', async () => {
    const samples: MetricBreakdown[] = []
    const { sampler } = await fixtureSampler('one-core-four-busy', { now: Date.now, onSample: (b) => { samples.push(b) } })
    await sampler.sample()
    assert.equal(samples.length, 1)
    sampler.pending.add('job-1', Date.now() + 60_000)
    let b = sampler.current() as MetricBreakdown
    assert.equal(samples.length, 2, 'a new breakdown without a new /proc sample')
    assert.equal(b.pending, 1)
    assert.equal(b.running, 5)
    close(b.share, 1 / 6, 'share with one more process')
    sampler.pending.consume('job-1')
    b = sampler.current() as MetricBreakdown
    assert.equal(b.pending, 0)
    close(b.share, 0.2, 'share back')

    sampler.pending.add('job-2', Date.now() + 30)
    assert.equal((sampler.current() as MetricBreakdown).pending, 1)
    await waitFor(() => sampler.current()?.pending === 0, 'the ticket to expire')
    close((sampler.current() as MetricBreakdown).share, 0.2, 'share after expiry')
    sampler.stop()
  })

  it('pending work on an idle machine counts as busy time too: an idle 2-core node promised 2 jobs offers 2/3', async () => {
    const { sampler } = await fixtureSampler('idle')
    const idle = await sampler.sample()
    close(idle.share, 1, 'idle')
    sampler.pending.add('a', Date.now() + 60_000)
    const cores = idle.cores
    sampler.pending.add('b', Date.now() + 60_000)
    const b = sampler.current() as MetricBreakdown
    // each promised job takes a core: C cores, 2 of them spoken for, 2 + 1 sharing them
    const expected = Math.min(1, cores * Math.max(0, idle.fIdle - 2 / cores) + cores * (1 - Math.max(0, idle.fIdle - 2 / cores)) / 3)
    close(b.share, expected, 'share with two pending jobs')
    assert.ok(b.share < 1)
    sampler.stop()
  })

  it('whatIf(k): the sysmetric with k more jobs, as pending work would give it, without changing anything', async () => {
    const { sampler } = await fixtureSampler('idle')
    assert.equal(sampler.whatIf(1), undefined, 'no sample yet')
    const idle = await sampler.sample()
    close(sampler.whatIf(0) as number, idle.sysmetric, 'no extra job')
    const two = sampler.whatIf(2) as number
    sampler.pending.add('a', Date.now() + 60_000)
    sampler.pending.add('b', Date.now() + 60_000)
    close(two, (sampler.current() as MetricBreakdown).sysmetric, 'two extra jobs are two pending jobs')
    assert.ok((sampler.whatIf(1) as number) <= two, 'one more on top of them is no better')
    sampler.stop()
  })

  it('formats every input and intermediate value', async () => {
    const { sampler } = await fixtureSampler('one-core-four-busy')
    const text = formatBreakdown(await sampler.sample())
    for (const needle of ['S = 100 · mean(ref/t) = 100.0', 'sjeng', 'gcc', 'libquantum', 'xalan', 'ratio 1.000',
      'C = 1', 'f_idle = 0.000', 'procs_running 5 − 1 (this sampler) + pending 0 = 4', 'share = min(1, C·f_idle + C·f_busy/(n+1)) = 0.200',
      'threshold 10 %', 'm = 1.000', 'D = 400 · share · m = 80.0', '(0.3·S + 0.7·D) / 2 = 43.0']) {
      assert.ok(text.includes(needle), `missing '${needle}' in\n${text}`)
    }
  })
})

describe('metric sampler with bad /proc files', () => {
  afterEach(removeTempDirs)

  for (const bad of ['garbage', 'truncated', 'missing']) {
    it(`sample() rejects on a ${bad} /proc with the file named, and keeps the last good value`, async () => {
      const { sampler, root } = await fixtureSampler('idle')
      const good = await sampler.sample()
      for (const file of ['stat', 'meminfo']) {
        const src = join(FIXTURES, bad, file)
        await rm(join(root, file), { force: true })
        await copyFile(src, join(root, file)).catch(() => {})
      }
      await assert.rejects(sampler.sample(), (err: Error) => err.name === 'ProcError' && err.message.startsWith(join(root, 'stat')))
      assert.equal(sampler.current(), good)
    })
  }

  it('the timer logs one clear line per problem, keeps the last good value and keeps running', async () => {
    let reads = 0
    const samples: MetricBreakdown[] = []
    const { sampler, root, logs } = await fixtureSampler('idle', {
      intervalMs: 10,
      windowMs: 10,
      now: () => { reads++; return Date.now() },
      onSample: (b) => { samples.push(b) }
    })
    await sampler.start()
    try {
      const good = sampler.current() as MetricBreakdown
      assert.ok(good !== undefined)
      close(good.sysmetric, 155, 'first sample')
      assert.ok(logs[0].startsWith('metric: static score S = 100.0'), logs[0])

      // replaced atomically: a reader between truncation and write would see a second problem (an empty file)
      await writeFile(join(root, 'stat.tmp'), 'Lorem ipsum\n')
      await rename(join(root, 'stat.tmp'), join(root, 'stat'))
      const before = reads
      await waitFor(() => reads > before + 10, 'ten more timer ticks')
      const errors = logs.filter((l) => l.includes('cannot sample'))
      assert.equal(errors.length, 1, logs.join('\n'))
      assert.match(errors[0], /^metric: cannot sample \/proc: .*\/stat: no per-CPU lines .*; keeping the last good value \(sysmetric 155\.0 from /)
      // the last good value: the timer may have taken more good samples between `good` and the rename
      const lastGood = samples[samples.length - 1]
      assert.equal(sampler.current(), lastGood, 'the last good value stays current')
      const sampled = samples.length
      const before1 = reads
      await waitFor(() => reads > before1 + 10, 'ten more timer ticks')
      assert.equal(samples.length, sampled, 'a broken file gives no sample')
      assert.equal(sampler.current(), lastGood, 'the last good value stays current')

      await copyFile(join(FIXTURES, 'idle', 'stat'), join(root, 'stat'))
      await waitFor(() => logs.some((l) => l.includes('works again')), 'recovery')
      const recovered = samples.length
      await waitFor(() => samples.length > recovered + 2, 'new samples')

      await rm(join(root, 'meminfo'))
      const before2 = reads
      await waitFor(() => reads > before2 + 10, 'ten more timer ticks')
      const memErrors = logs.filter((l) => l.includes('meminfo: missing'))
      assert.equal(memErrors.length, 1, 'a different problem gets its own single line')
    } finally {
      sampler.stop()
    }
  })

  it('start() on a broken /proc resolves, logs once and has no value yet', async () => {
    const { sampler, logs } = await fixtureSampler('garbage', { intervalMs: 10 })
    await sampler.start()
    try {
      assert.equal(sampler.current(), undefined)
      const errors = logs.filter((l) => l.includes('cannot sample'))
      assert.equal(errors.length, 1)
      assert.match(errors[0], /stat: no per-CPU lines.*; no value yet$/)
    } finally {
      sampler.stop()
    }
  })
})

describe('pending work of a job that has started', () => {
  it('a rise in the runnable processes is promised jobs that started, oldest first; an unused ticket cannot have started', async () => {
    const { createPendingWork } = await import('../src/metric/pending.js')
    let t = 1000
    const pending = createPendingWork({ now: () => t })
    pending.observe(4, t, 'host') // the baseline
    pending.add('ticket', 60_000) // issued, not used yet
    pending.add('local-1', 60_000, 1000)
    pending.add('local-2', 60_000, 1000)
    assert.equal(pending.count(), 3)
    t = 1100
    assert.equal(pending.observe(5, t, 'host'), true, 'one job started')
    assert.equal(pending.count(), 2)
    t = 1200
    assert.equal(pending.observe(4, t, 'host'), false, 'a fall (another process ended) explains nothing')
    assert.equal(pending.count(), 2)
    t = 1300
    assert.equal(pending.observe(7, t, 'host'), true)
    assert.equal(pending.count(), 1, 'three more runnable: local-2 is among them, the unused ticket is not')
    pending.add('ticket', 60_000, 1300) // now it is used: the job may start
    t = 1400
    pending.observe(8, t, 'host')
    assert.equal(pending.count(), 0)
  })

  it('a job not yet allowed to start, or a reading of another source, matches nothing; expiry still applies', async () => {
    const { createPendingWork } = await import('../src/metric/pending.js')
    let t = 1000
    const pending = createPendingWork({ now: () => t })
    pending.observe(1, t, 'host')
    pending.add('later', 3000, 2000)
    t = 1500
    pending.observe(2, t, 'host')
    assert.equal(pending.count(), 1, 'it may start only from 2000')
    pending.observe(9, t, 'cgroup')
    assert.equal(pending.count(), 1, 'a cgroup count after a host count is a new baseline, not a rise')
    t = 3000
    assert.equal(pending.observe(9, t, 'cgroup'), true, 'expired')
    assert.equal(pending.count(), 0)
  })
})

/** The one-core fixture's /proc/stat with `running` runnable processes (this sampler's own included). */
async function writeRunning (root: string, running: number): Promise<void> {
  await writeFile(join(root, 'stat'), `cpu  2669 0 1404 29703 15 0 13 4 0 0\ncpu0 2669 0 1404 29703 15 0 13 4 0 0\nprocs_running ${running}\n`)
}

describe('the sampler counts a promised job once', () => {
  afterEach(removeTempDirs)

  it('as pending until a reading shows it running, then as a runnable process', async () => {
    const { sampler, root, clock } = await fixtureSampler('one-core-four-busy')
    const stat = async (running: number): Promise<void> => { await writeRunning(root, running) }
    const first = await sampler.sample()
    assert.equal(first.running, 4)
    sampler.pending.add('local-1', clock.t + 60_000, clock.t) // a client told to run it here
    sampler.pending.add('ticket', clock.t + 60_000) // an offer the origin has not taken up yet
    let b = sampler.fresh() as MetricBreakdown
    assert.equal(b.pending, 2)
    assert.equal(b.running, 6)
    close(b.share, 1 / 7, 'share with two promised jobs')
    // the local job starts: one more runnable process, and one less pending
    await stat(6)
    clock.t += 200
    b = sampler.fresh() as MetricBreakdown
    assert.equal(b.pending, 1)
    assert.equal(b.running, 6, 'the started job counts once')
    // it keeps running; the unused ticket still counts
    clock.t += 200
    b = sampler.fresh() as MetricBreakdown
    assert.equal(b.running, 6)
    assert.equal(b.pending, 1)
    sampler.stop()
  })
})

describe('a job that ended', () => {
  afterEach(removeTempDirs)

  it('readNow() reads the runnable processes at once (fresh() reads at most every 100 ms), and a consumed promise stops counting', async () => {
    const { sampler, root, clock } = await fixtureSampler('one-core-four-busy')
    const stat = async (running: number): Promise<void> => { await writeRunning(root, running) }
    await sampler.sample()
    // a job run for another node: its ticket was used, and its start hid behind another job's end (no rise)
    sampler.pending.add('ticket-1', clock.t + 60_000, clock.t)
    clock.t += 200
    let b = sampler.fresh() as MetricBreakdown
    assert.equal(b.running, 5, 'four runnable processes and the promised job')
    // both jobs end; 10 ms later fresh() still gives the last reading
    await stat(3)
    clock.t += 10
    b = sampler.fresh() as MetricBreakdown
    assert.equal(b.running, 5)
    // what the daemon does when a job for another node ended (metric-part jobDone)
    sampler.pending.consume('ticket-1')
    b = sampler.readNow() as MetricBreakdown
    assert.equal(b.pending, 0)
    assert.equal(b.running, 2, 'procs_running 3, less this sampler')
    sampler.stop()
  })
})

describe('a static score taken on a busy machine', () => {
  afterEach(removeTempDirs)

  it('is measured again once the machine is idle and the retry time has passed, keeping the better score; rebench() measures at once', async () => {
    const { REBENCH_RETRY_MS } = await import('../src/metric/constants.js')
    const runs: boolean[] = []
    const scores = [{ ...fakeStaticScore(60, false), busy: true, othersBusy: 0.9 }, { ...fakeStaticScore(50, false), busy: true, othersBusy: 0.8 }, { ...fakeStaticScore(98, false), busy: false }, { ...fakeStaticScore(40, false), busy: true, othersBusy: 0.9 }]
    const { sampler, clock, logs } = await fixtureSampler('idle', {
      intervalMs: 5,
      benchmark: async (request) => { runs.push(request?.fresh === true); return scores[runs.length - 1] }
    })
    try {
      await sampler.start()
      assert.equal(sampler.staticScore()?.score, 60)
      assert.equal(sampler.current()?.benchmarkBusy, true)
      assert.match(logs.join('\n'), /measuring again when the machine is idle/)
      await sampler.sample()
      assert.equal(runs.length, 1, 'not before the retry time')
      clock.t += REBENCH_RETRY_MS
      await waitFor(() => runs.length === 2 && !sampler.benchmarking(), 'the second run')
      assert.equal(sampler.staticScore()?.score, 60, 'busy again and lower: the old score stays')
      assert.match(logs.join('\n'), /measured S = 50\.0 on a busy machine again; keeping 60\.0/)
      clock.t += REBENCH_RETRY_MS
      await waitFor(() => sampler.current()?.static === 98, 'the quiet run')
      assert.equal(sampler.current()?.benchmarkBusy, false)
      clock.t += 3 * REBENCH_RETRY_MS
      await sampler.sample()
      assert.equal(runs.length, 3, 'a quiet score is not measured again by itself')
      const again = await sampler.rebench()
      assert.equal(again.score, 40, 'rebench() takes the new run even from a busy machine: the owner asked')
      assert.deepEqual(runs, [false, true, true, true])
      assert.equal(sampler.current()?.static, 40, 'the breakdown is recomputed at once')
    } finally {
      sampler.stop()
    }
  })
})

describe('a saturated origin yields a tie (originExtraJobs)', () => {
  afterEach(removeTempDirs)

  /** Algorithm II at an origin whose neighbour B advertises exactly what the origin's own sample says. */
  async function decide (fixture: string): Promise<{ kind: string, own: number, asOrigin: number }> {
    const { sampler } = await fixtureSampler(fixture)
    const b = await sampler.sample()
    const extra = originExtraJobs(b.busyNow)
    const asOrigin = extra === 0 ? b.sysmetric : sampler.whatIf(extra) as number
    const gossip = createGossip({ c: 0, delayMs: 1000 })
    gossip.addNeighbour('B')
    gossip.receive('B', { sendProbe: b.sysmetric, sysmetric: b.sysmetric, seq: 1 }, 0)
    return { kind: decideOrigin(gossip, 'A', asOrigin, 0, { id: 'p' }).kind, own: b.sysmetric, asOrigin }
  }

  it('saturated (one core, 4 CPU-bound processes): half a job more, so an equally busy neighbour gets the job', async () => {
    const r = await decide('one-core-four-busy')
    assert.equal(originExtraJobs(1), 0.5)
    // n 4.5 instead of 4: share 1/5.5 instead of 1/5
    close(r.asOrigin, (0.3 * 100 + 0.7 * 400 / 5.5) / 2, 'value as origin')
    assert.ok(r.asOrigin < r.own)
    assert.equal(r.kind, 'probe')
  })

  it('with room (idle): its own value, and a tie keeps the job here', async () => {
    const r = await decide('idle')
    assert.equal(r.asOrigin, r.own)
    assert.equal(r.kind, 'local')
  })
})
