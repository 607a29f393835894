import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DAEMON_MAIN, REPO } from '../helpers/node.js'
import { DAEMON_NODE_FLAGS } from '../../src/constants.js'

async function run (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { env, cwd: REPO }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as any).code ?? 1, stdout, stderr })
    })
  })
}

describe('set-up on a machine whose node is older than 22', function () {
  it('README\'s quick start gives npm install and npm link, then a command that starts a node, and npm test', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const quick = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ''
    const [setup, use] = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)].map(m => m[1])
    assert.match(setup, /^npm install\b/m)
    assert.match(setup, /^npm link\b/m)
    // no npx: it would install a copy in its cache and build it there, on first use and after every change
    assert.doesNotMatch(quick, /npx kappa-node/)
    assert.match(use, /^kappa-node start\b/m)
    assert.match(use, /^npm test\b/m)
    const ci = await readFile(join(REPO, '.ci/run'), 'utf8')
    assert.match(ci, /^npm ci\b/m)
    assert.match(ci, /^npm test$/m)
  })

  it('a daemon started through bin/kappa-node gets the Node flags every daemon starts with, and the bundle the build made', async () => {
    const home = await mkdtemp(join(tmpdir(), 'kappa-setup-'))
    const { spawn } = await import('node:child_process')
    const proc = spawn(join(REPO, 'bin/kappa-node'), ['start', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-http', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => { if (String(d).includes('"ready"')) resolve() })
        proc.once('exit', (code) => { reject(new Error(`start exited ${code}`)) })
      })
      const argv = (await readFile(`/proc/${proc.pid}/cmdline`, 'utf8')).split('\0')
      assert.ok(argv.indexOf(DAEMON_NODE_FLAGS[0]) > 0, argv.join(' '))
      const entry = argv.findIndex(a => a.endsWith('.js'))
      assert.match(DAEMON_MAIN, /main\.bundle\.js$/, 'npm run build made the bundle (esbuild is a devDependency)')
      assert.equal(argv[entry], DAEMON_MAIN, 'the daemon loads the bundle (one file)')
      assert.ok(DAEMON_NODE_FLAGS.every(f => argv.indexOf(f) > 0 && argv.indexOf(f) < entry), argv.join(' '))
    } finally {
      proc.kill('SIGKILL')
      await rm(home, { recursive: true, force: true })
    }
  })

  it('package.json requires Node >= 22 and brings it as a dependency', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
    assert.equal(pkg.engines.node, '>=22')
    assert.match(pkg.dependencies.node, /^\^?22\./)
    assert.equal(pkg.bin['kappa-node'], 'bin/kappa-node')
  })

  it('bin/kappa-node runs under the bundled Node 22 even when PATH only has the system node', async () => {
    const home = await mkdtemp(join(tmpdir(), 'kappa-setup-'))
    try {
      const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home }
      const version = await run(join(REPO, 'bin/kappa-node'), ['--version'], env)
      assert.equal(version.code, 0, version.stderr)
      assert.match(version.stdout, /^\d+\.\d+\.\d+/)
      // a command that needs libp2p-era Node features fails cleanly (not running), not with a syntax or engine error
      const status = await run(join(REPO, 'bin/kappa-node'), ['status', '--home', home], env)
      assert.equal(status.code, 1)
      assert.match(status.stderr, /the node is not running/)
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })

  it('generated protobuf code is up to date with protocols/*.proto', async function () {
    this.timeout(60_000)
    const out = await mkdtemp(join(tmpdir(), 'kappa-protos-'))
    try {
      const { readdir } = await import('node:fs/promises')
      const protos = (await readdir(join(REPO, 'protocols'))).filter(f => f.endsWith('.proto'))
      assert.ok(protos.length > 0)
      const r = await run(process.execPath, [join(REPO, 'node_modules/protons/dist/bin/protons.js'), ...protos.map(p => join(REPO, 'protocols', p)), '-o', out], process.env)
      assert.equal(r.code, 0, r.stderr)
      for (const proto of protos) {
        const name = proto.replace(/\.proto$/, '.ts')
        const fresh = await readFile(join(out, name), 'utf8')
        const committed = await readFile(join(REPO, 'src/wire', name), 'utf8')
        assert.equal(committed, fresh, `src/wire/${name} is stale: run npm run protos`)
      }
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })
})
