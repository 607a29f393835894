import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, cleanup, tmpDir } from '../helpers/node.js'

interface Result { code: number, stdout: string, stderr: string }

async function sh (script: string, opts: { cwd: string, env: NodeJS.ProcessEnv, timeoutMs?: number }): Promise<Result> {
  return await new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script], { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof (err as any).code === 'number' ? (err as any).code : 1, stdout, stderr })
    })
  })
}

/** npm with its global prefix redirected: nothing is installed outside the temp dir */
function npmEnv (prefix: string, home: string): NodeJS.ProcessEnv {
  return { ...process.env, npm_config_prefix: prefix, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', HOME: home, KAPPA_HOME: undefined }
}

/** a new login-less shell that knows only the prefix's bin and the system's */
function freshShellEnv (prefix: string, home: string): NodeJS.ProcessEnv {
  return { PATH: `${prefix}/bin:/usr/local/bin:/usr/bin:/bin`, HOME: home }
}

async function version (): Promise<string> {
  return JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version
}

describe('installing kappa-node', function () {
  this.timeout(900_000)
  afterEach(cleanup)

  it('npm pack makes a runnable package: installed from the tarball into a prefix, kappa-node --version works (acceptance 3)', async () => {
    const dir = await tmpDir('kappa-pack-')
    const env = npmEnv(join(dir, 'prefix'), dir)
    // --ignore-scripts: `prepare` would rebuild dist/ under the running suite; npm test built it already
    const packed = await sh(`npm pack --ignore-scripts --json --pack-destination ${dir}`, { cwd: REPO, env })
    assert.equal(packed.code, 0, packed.stderr)
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))
    const files: string[] = info.files.map((f: { path: string }) => f.path)
    for (const f of ['bin/kappa-node', 'dist/src/cli/main.js', 'dist/src/daemon/index.js', 'LICENSE', 'README.md', 'package.json', 'contrib/systemd/user/kappa-node.service']) assert.ok(files.includes(f), `${f} in the package`)
    // the one source shipped: the C run client wrap compiles on the user's machine
    assert.ok(files.includes('src/run/kappa-run.c'), 'the native run client\'s source in the package')
    assert.deepEqual(files.filter(f => f !== 'src/run/kappa-run.c' && /^(src|test|bench|dist\/test|dist\/bench|keys|node_modules)\//.test(f)), [], 'no other sources, no tests, benchmarks or keys in the package')

    const installed = await sh(`npm install -g ${join(dir, info.filename)}`, { cwd: dir, env })
    assert.equal(installed.code, 0, installed.stderr)
    const shell = freshShellEnv(join(dir, 'prefix'), dir)
    const v = await sh('kappa-node --version', { cwd: dir, env: shell })
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), await version())
    // the installed package runs its own Node 22: a command that needs it fails only for the expected reason
    const status = await sh(`kappa-node status --home ${join(dir, 'home')}`, { cwd: dir, env: shell })
    assert.equal(status.code, 1)
    assert.match(status.stderr, /the node is not running/)
  })

  it('from a fresh clone, README\'s set-up puts kappa-node on PATH for a new shell (acceptance 3)', async function () {
    if (!existsSync(join(REPO, '.git'))) {
      console.log('      (skipped: not a git checkout, nothing to clone)')
      this.skip()
    }
    const dir = await tmpDir('kappa-clone-')
    const clone = join(dir, 'kappa-node')
    const cloned = await sh(`git clone -q ${REPO} ${clone}`, { cwd: dir, env: process.env })
    assert.equal(cloned.code, 0, cloned.stderr)
    const readme = await readFile(join(clone, 'README.md'), 'utf8')
    const quick = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ''
    const setup = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)][0]?.[1] ?? ''
    const steps = setup.split('\n').map(l => l.replace(/\s+#.*$/, '').trim()).filter(l => l !== '' && !l.startsWith('git clone') && !l.startsWith('cd '))
    assert.deepEqual(steps, ['npm install', 'npm link'], 'the set-up block is npm install and npm link')
    const env = npmEnv(join(dir, 'prefix'), dir)
    for (const step of steps) {
      const r = await sh(step, { cwd: clone, env })
      assert.equal(r.code, 0, `${step}: ${r.stderr}`)
    }
    const v = await sh('kappa-node --version && command -v kappa-node', { cwd: dir, env: freshShellEnv(join(dir, 'prefix'), dir) })
    assert.equal(v.code, 0, v.stderr)
    const [printed, path] = v.stdout.trim().split('\n')
    assert.equal(printed, await version())
    assert.equal(path, join(dir, 'prefix', 'bin', 'kappa-node'))
  })
})
