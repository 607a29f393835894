/**
 * End to end: `bin/kappa-node metric` as a user runs it (Node 22 via the
 * launcher, real /proc unless --proc), no daemon.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { KERNEL_NAMES } from '../../src/metric/constants.js'
import { FIXTURES, REPO, removeTempDirs, tempDir } from '../metric-helpers.js'

interface Run { code: number, stdout: string, stderr: string }

async function kappa (...args: string[]): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(join(REPO, 'bin/kappa-node'), args, { env: { ...process.env, KAPPA_HOME: '' } }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

describe('kappa-node metric (end to end)', () => {
  after(removeTempDirs)

  let home: string
  let first: Record<string, any>

  it('measures, benchmarks once and prints every value as JSON', async () => {
    home = await tempDir('kappa-home-')
    const r = await kappa('metric', '--home', home, '--json', '--window', '200')
    assert.equal(r.code, 0, r.stderr)
    first = JSON.parse(r.stdout)
    assert.equal(first.benchmark.cached, false)
    assert.ok(first.benchmark.kernelsRun > 0)
    assert.deepEqual(first.kernels.map((k: { name: string }) => k.name), KERNEL_NAMES)
    for (const k of first.kernels) assert.ok(k.ratio > 0 && k.ms > 0 && k.refMs > 0 && k.reps.length >= 3)
    assert.ok(first.static > 0)
    assert.ok(first.share > 0 && first.share <= 1)
    assert.ok(first.cores >= 1)
    assert.ok(first.fIdle >= 0 && first.fIdle <= 1)
    assert.ok(first.memFactor >= 0 && first.memFactor <= 1)
    assert.ok(Math.abs(first.dynamic - 400 * first.share * first.memFactor) < 1e-9)
    assert.ok(Math.abs(first.sysmetric - (0.3 * first.static + 0.7 * first.dynamic) / 2) < 1e-9)
    assert.equal(first.pending, 0)
    assert.match(r.stderr, /benchmarking the CPU/)
    const cache = JSON.parse(await readFile(join(home, 'benchmark.json'), 'utf8'))
    assert.equal(cache.score, first.static)
  })

  it('runs no kernel the second time in the same boot', async () => {
    const cacheFile = join(home, 'benchmark.json')
    const before = await readFile(cacheFile, 'utf8')
    const mtime = (await stat(cacheFile)).mtimeMs
    const r = await kappa('metric', '--home', home, '--json', '--window', '200')
    assert.equal(r.code, 0, r.stderr)
    const second = JSON.parse(r.stdout)
    assert.deepEqual(second.benchmark, { ...first.benchmark, cached: true, kernelsRun: 0 })
    assert.equal(second.static, first.static)
    assert.deepEqual(second.kernels, first.kernels)
    assert.equal(r.stderr, '', 'no benchmark progress')
    assert.equal(await readFile(cacheFile, 'utf8'), before, 'cache untouched')
    assert.equal((await stat(cacheFile)).mtimeMs, mtime)
  })

  it('prints a readable breakdown without --json', async () => {
    const r = await kappa('metric', '--home', home, '--window', '200')
    assert.equal(r.code, 0, r.stderr)
    for (const needle of ['static     S = ', 'cached', ...KERNEL_NAMES, 'f_idle', 'n = procs_running', 'share = ', 'm = ', 'D = 400', 'sysmetric']) {
      assert.ok(r.stdout.includes(needle), `missing '${needle}' in\n${r.stdout}`)
    }
  })

  for (const [what, root, pattern] of [
    ['a garbage proc root', join(FIXTURES, 'garbage'), /^kappa-node: cannot read the system metric: .*garbage\/stat: no per-CPU lines \(cpu0 …\): not a \/proc\/stat file, or truncated\n$/],
    ['a truncated proc root', join(FIXTURES, 'truncated'), /^kappa-node: cannot read the system metric: .*truncated\/stat: malformed line/],
    ['a proc root without the files', join(FIXTURES, 'missing'), /^kappa-node: cannot read the system metric: .*missing\/stat: missing\n$/],
    ['a proc root that does not exist', '/nonexistent/proc', /^kappa-node: proc root \/nonexistent\/proc does not exist\n$/]
  ] as const) {
    it(`fails with one clear line and exit 1 on ${what}`, async () => {
      const h = await tempDir('kappa-home-')
      const r = await kappa('metric', '--home', h, '--json', '--proc', root)
      assert.equal(r.code, 1)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, pattern)
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`)
      await assert.rejects(stat(join(h, 'benchmark.json')), { code: 'ENOENT' }, 'no benchmark ran')
    })
  }

  it('rejects a window too short to measure', async () => {
    const r = await kappa('metric', '--home', home, '--window', '5')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^kappa-node: --window must be at least 100 ms/)
  })
})
