import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO } from './helpers/node.js'
import { processesMatching } from './helpers/run.js'

const demoDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter(d => d.startsWith('kappa-demo-'))

describe('npm run demo (the newcomer\'s first command)', function () {
  this.timeout(90_000)

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
    for (const m of ran) assert.equal(m[3], 'counted to 1500000')
    assert.match(stdout, /1 file sent \(\d+ KiB\)/)
    assert.match(stdout, /nothing sent \(it had it all\)/)
    assert.match(stdout, /npm run cluster/)
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
