import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO, cleanup, tmpDir } from '../helpers/node.js'
import { processesMatching } from '../helpers/run.js'

const demoDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter(d => d.startsWith('kappa-demo-'))

describe('npm run demo (the newcomer\'s first command)', function () {
  this.timeout(180_000)
  afterEach(cleanup)

  it('places the job from busy A on idle C through B, reports the times, and leaves no node or home behind', async () => {
    const before = new Set(await demoDirs())
    const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [join(REPO, 'dist/src/cluster/demo.js')], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      proc.stdout.on('data', (d) => { out += String(d) })
      proc.stderr.on('data', (d) => { err += String(d) })
      proc.on('close', (c) => { resolve({ code: c, stdout: out, stderr: err }) })
    })
    assert.equal(code, 0, stderr)
    assert.match(stdout, /walks A → B → C; C answers with sysmetric 148/)
    const ran = [...stdout.matchAll(/ran on (\S+)[^:]*: (\d+\.\d+) s wall {2}\((.*)\)/g)]
    assert.equal(ran.length, 3, stdout)
    assert.deepEqual(ran.map(m => m[1]), ['C', 'C', 'this'])
    for (const m of ran) assert.equal(m[3], 'counted to 700000')
    assert.match(stdout, /\d+ KiB sent/)
    assert.match(stdout, /nothing sent \(it had it all\)/)
    assert.match(stdout, /npm run cluster/)
    // honest figures: kappa's cost is measured, never a negative difference of two runs
    const cost = /a job that does nothing \(true\) takes (\d+\.\d+) s from A on another node,\nof which (\d+\.\d+) s is starting/.exec(stdout)
    assert.ok(cost != null, stdout)
    assert.ok(Number(cost[1]) >= Number(cost[2]) * 0.5 && Number(cost[1]) > 0, stdout)
    assert.doesNotMatch(stdout, /−\d|-\d+\.\d+ s/)
    // every suggestion works as printed: those that end by themselves are run here
    const next = stdout.slice(stdout.indexOf('Next (each works as printed):')).split('\n').filter(l => /^ {2}\S/.test(l)).map(l => l.trim())
    assert.ok(next.length >= 4, stdout)
    const home = await tmpDir('kappa-suggested-')
    for (const command of next.filter(c => /kappa-node (run|jobs)\b/.test(c))) {
      const r = spawnSync('sh', ['-c', command], { cwd: home, env: { ...process.env, KAPPA_HOME: home }, encoding: 'utf8' })
      assert.equal(r.status, 0, `${command}: ${r.stderr}`)
    }
    assert.deepEqual((await demoDirs()).filter(d => !before.has(d)), [], 'temp homes left')
    assert.deepEqual(await processesMatching('kappa-demo-'), [], 'nodes left running')
  })

  it('package.json runs it, and README\'s quick start names it', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
    assert.match(pkg.scripts.demo, /dist\/src\/cluster\/demo\.js/)
    assert.match(pkg.scripts.cluster, /dist\/src\/cluster\/cli\.js up/)
    assert.match(pkg.scripts.keys, /dist\/src\/cluster\/cli\.js keys/)
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const quick = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ''
    assert.match(quick, /^npm run demo\b/m)
  })
})
