import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BENCHMARK_VERSION, KERNEL_NAMES, KERNEL_REFERENCE_MS } from '../../src/metric/constants.js'
import { createBenchmark, runKernelsInWorker, type RunKernels } from '../../src/metric/benchmark.js'
import { KERNELS } from '../../src/metric/kernels.js'
import { DEFAULT_PLAN, measureKernels, type MeasurePlan, type Measurement } from '../../src/metric/measure.js'
import { fixtureRoot, removeTempDirs } from '../metric-helpers.js'

/** A stand-in for the worker: every kernel's best repetition is half its reference time (S = 200); counts its calls. */
function fakeRunner (): RunKernels & { calls: number } {
  const run = async (plan: MeasurePlan): Promise<Measurement> => {
    run.calls++
    return {
      kernels: plan.kernels.map((name) => {
        const half = KERNEL_REFERENCE_MS[name] * plan.scale / 2
        return { name, reps: [half * 3, half * 1.2, half, half * 1.1, half * 1.05], checksum: 1 }
      }),
      kernelsRun: plan.kernels.length * (plan.warmupRounds + plan.rounds),
      elapsedMs: 1234,
      threadId: 1,
      clock: 'on-cpu'
    }
  }
  run.calls = 0
  return run
}

describe('static score benchmark', () => {
  afterEach(removeTempDirs)

  it('S = 100 · mean(ref / best of the repetitions)', async () => {
    const { root } = await fixtureRoot('idle')
    const runKernels = fakeRunner()
    const s = await createBenchmark({ procRoot: root, runKernels })()
    assert.equal(s.score, 200)
    assert.deepEqual(s.kernels.map((k) => k.name), KERNEL_NAMES)
    for (const k of s.kernels) {
      assert.equal(k.ratio, 2)
      assert.equal(k.ms, k.refMs / 2, 'the fastest repetition: load only ever slows one down')
    }
    assert.equal(s.cached, false)
    assert.equal(s.kernelsRun, KERNEL_NAMES.length * (DEFAULT_PLAN.warmupRounds + DEFAULT_PLAN.rounds))
    assert.deepEqual(s.key, { bootId: '0f6c3c3e-8a1b-4b7e-9d2a-1c2d3e4f5a6b', cpuModel: 'Fixture CPU @ 3.0GHz', node: process.version })
  })

  it('is cached per boot: a second run in the same boot runs no kernel', async () => {
    const { root } = await fixtureRoot('idle')
    const cacheFile = join(root, 'benchmark.json')
    const runKernels = fakeRunner()
    const first = await createBenchmark({ procRoot: root, cacheFile, runKernels })()
    assert.equal(runKernels.calls, 1)
    const written = JSON.parse(await readFile(cacheFile, 'utf8'))
    assert.equal(written.version, BENCHMARK_VERSION)
    assert.equal((await stat(cacheFile)).mode & 0o777, 0o600)

    const second = await createBenchmark({ procRoot: root, cacheFile, runKernels })()
    assert.equal(runKernels.calls, 1, 'no kernel ran')
    assert.equal(second.cached, true)
    assert.equal(second.kernelsRun, 0)
    assert.equal(second.score, first.score)
    assert.equal(second.measuredAt, first.measuredAt)
    assert.deepEqual(second.kernels, first.kernels)
  })

  it('re-runs after a reboot, on another CPU model or Node version', async () => {
    const { root } = await fixtureRoot('idle')
    const cacheFile = join(root, 'benchmark.json')
    const runKernels = fakeRunner()
    const logs: string[] = []
    const bench = (nodeVersion?: string): Promise<unknown> => createBenchmark({ procRoot: root, cacheFile, runKernels, nodeVersion, log: (l) => { logs.push(l) } })()
    await bench()
    await bench()
    assert.equal(runKernels.calls, 1)
    await writeFile(join(root, 'sys/kernel/random/boot_id'), '11111111-2222-3333-4444-555555555555\n')
    await bench()
    assert.equal(runKernels.calls, 2, 'new boot id')
    await writeFile(join(root, 'cpuinfo'), 'processor : 0\nmodel name : Other CPU\n')
    await bench()
    assert.equal(runKernels.calls, 3, 'new CPU model')
    await bench('v99.0.0')
    assert.equal(runKernels.calls, 4, 'new Node version')
    await bench('v99.0.0')
    assert.equal(runKernels.calls, 4)
    assert.deepEqual(logs, [], 'a stale cache is expected, not worth a log line')
  })

  it('re-runs on a corrupt or outdated cache, saying so once, and repairs it', async () => {
    const { root } = await fixtureRoot('idle')
    const cacheFile = join(root, 'benchmark.json')
    const runKernels = fakeRunner()
    const logs: string[] = []
    const bench = (): Promise<unknown> => createBenchmark({ procRoot: root, cacheFile, runKernels, log: (l) => { logs.push(l) } })()

    await writeFile(cacheFile, '{"version": 1, "sc')
    await bench()
    assert.equal(runKernels.calls, 1)
    assert.equal(logs.length, 1)
    assert.match(logs[0], /benchmark cache .*benchmark\.json is corrupt \(not JSON\); re-running the benchmark/)
    await bench()
    assert.equal(runKernels.calls, 1, 'repaired')

    const data = JSON.parse(await readFile(cacheFile, 'utf8'))
    await writeFile(cacheFile, JSON.stringify({ ...data, version: BENCHMARK_VERSION - 1 }))
    await bench()
    assert.equal(runKernels.calls, 2)
    assert.match(logs[1], /unusable \(version/)

    await writeFile(cacheFile, JSON.stringify({ ...data, kernels: data.kernels.map((k: { refMs: number }) => ({ ...k, refMs: k.refMs + 1 })) }))
    await bench()
    assert.equal(runKernels.calls, 3)
    assert.match(logs[2], /reference time of sjeng changed/)

    await writeFile(cacheFile, JSON.stringify({ ...data, score: 'fast' }))
    await bench()
    assert.equal(runKernels.calls, 4)
    assert.match(logs[3], /no score/)
  })

  it('a fresh run (metric --rebench, SIGHUP) ignores the cache and replaces it', async () => {
    const { root } = await fixtureRoot('idle')
    const cacheFile = join(root, 'benchmark.json')
    const runKernels = fakeRunner()
    let t = Date.parse('2026-01-01T00:00:00Z')
    const bench = createBenchmark({ procRoot: root, cacheFile, runKernels, now: () => t })
    const first = await bench()
    t += 3_600_000
    assert.equal((await bench()).cached, true)
    const fresh = await bench({ fresh: true })
    assert.equal(runKernels.calls, 2)
    assert.equal(fresh.cached, false)
    assert.notEqual(fresh.measuredAt, first.measuredAt)
    assert.equal(JSON.parse(await readFile(cacheFile, 'utf8')).measuredAt, fresh.measuredAt, 'the cache holds the new run')
    assert.equal(fresh.busy, false, 'the fixture /proc does not move: nothing else ran')
  })

  it('a run during which other programs kept the CPUs busy is marked busy', async () => {
    const { root } = await fixtureRoot('idle')
    // /proc/stat advances during the run: 100 of 100 jiffies busy, none of them this process's
    const stat = await readFile(join(root, 'stat'), 'utf8')
    const busier = stat.replace(/^cpu0 +(\d+)/m, (_, user: string) => `cpu0 ${Number(user) + 100}`)
    const runKernels: RunKernels = async (plan) => {
      const m = await fakeRunner()(plan)
      await writeFile(join(root, 'stat'), busier)
      return m
    }
    const s = await createBenchmark({ procRoot: root, runKernels })()
    assert.ok(s.othersBusy > 0.5, String(s.othersBusy))
    assert.equal(s.busy, true)
  })

  it('without a boot id it still measures, but does not cache', async () => {
    const { root } = await fixtureRoot('idle')
    await rm(join(root, 'sys'), { recursive: true })
    const cacheFile = join(root, 'benchmark.json')
    const runKernels = fakeRunner()
    const logs: string[] = []
    const s = await createBenchmark({ procRoot: root, cacheFile, runKernels, log: (l) => { logs.push(l) } })()
    assert.equal(s.score, 200)
    await assert.rejects(stat(cacheFile), { code: 'ENOENT' })
    assert.match(logs[0], /boot_id: missing; the benchmark result will not be cached/)
  })
})

describe('benchmark kernels', () => {
  const small: MeasurePlan = { ...DEFAULT_PLAN, scale: 0.02, warmupRounds: 1, rounds: 3, minRounds: 3, budgetMs: 60_000 }

  it('are deterministic and do size-dependent work', () => {
    for (const name of KERNEL_NAMES) {
      const k = KERNELS[name]
      const a = k.prepare(20)
      const b = k.prepare(40)
      assert.equal(k.run(a), k.run(a), `${name} repeats`)
      assert.equal(k.run(a), k.run(k.prepare(20)), `${name} from a fresh input`)
      assert.notEqual(k.run(a), k.run(b), `${name} depends on its size`)
    }
  })

  it('run in a worker thread, report progress, and compute what they compute in-process', async () => {
    const progress: Array<{ kernel: string, done: number, total: number }> = []
    const inWorker = await runKernelsInWorker(small, (p) => { progress.push(p) })
    assert.notEqual(inWorker.threadId, 0, 'not the main thread')
    assert.equal(inWorker.kernelsRun, 16)
    assert.deepEqual(progress.map((p) => p.done), Array.from({ length: 16 }, (_, i) => i + 1))
    assert.ok(progress.every((p) => p.total === 16))
    assert.deepEqual(progress.slice(0, 4).map((p) => p.kernel), KERNEL_NAMES, 'round-robin')
    for (const k of inWorker.kernels) {
      assert.equal(k.reps.length, 3)
      assert.ok(k.reps.every((ms) => ms > 0))
    }
    const inProcess = measureKernels(small)
    assert.equal(inProcess.threadId, 0)
    assert.deepEqual(inWorker.kernels.map((k) => k.checksum), inProcess.kernels.map((k) => k.checksum))
  })

  it('run in a worker even when the parent process has flags a worker rejects', async () => {
    const script = `import { runKernelsInWorker } from ${JSON.stringify(new URL('../../src/metric/benchmark.js', import.meta.url).href)}
const m = await runKernelsInWorker(${JSON.stringify(small)})
console.log(m.kernelsRun)`
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout, stderr) => {
        if (err != null) reject(new Error(stderr)); else resolve(stdout)
      })
    })
    assert.equal(out.trim(), '16')
  })

  it('stop timing early when over budget, after the minimum rounds', () => {
    const m = measureKernels({ ...small, rounds: 50, minRounds: 2, budgetMs: 0 })
    for (const k of m.kernels) assert.equal(k.reps.length, 2)
    assert.equal(m.kernelsRun, 4 * 3)
  })
})
