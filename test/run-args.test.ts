import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseRunArgs } from '../src/cli/run-main.js'
import { REPO, tmpDir, cleanup } from './helpers/node.js'

describe('kappa-node run: the lean argument parser', function () {
  it('parses the same options as the full CLI', () => {
    assert.deepEqual(parseRunArgs(['--home', '/h', '--remote', '--input', 'a', '--input=b', '--output', 'o', '--env', 'CC', '--', 'make', '-j4']), {
      opts: { home: '/h', remote: true, input: ['a', 'b'], output: ['o'], env: ['CC'], noEnv: [] },
      command: ['make', '-j4'],
      retryLocal: false
    })
    assert.deepEqual(parseRunArgs(['--workspace', '..', '--no-env', 'LANG', '--no-env=TZ', 'make'])?.opts, { workspace: '..', input: [], output: [], env: [], noEnv: ['LANG', 'TZ'] })
    assert.deepEqual(parseRunArgs(['--peer', 'b', 'ls', '-l', '--', 'x'])?.command, ['ls', '-l', '--', 'x'])
    assert.equal(parseRunArgs(['--local', '--stdin', '--', 'cat'])?.opts.stdin, true)
  })

  it('hands help, unknown options and a missing command to the full CLI', () => {
    assert.equal(parseRunArgs(['--help']), undefined)
    assert.equal(parseRunArgs(['--frobnicate', '--', 'x']), undefined)
    assert.equal(parseRunArgs(['--home']), undefined)
    assert.equal(parseRunArgs(['--']), undefined)
  })
})

describe('kappa-node run: bin/kappa-node starts the C client with its options', function () {
  // a copy of bin/kappa-node beside a stand-in dist/kappa-run that writes the arguments it got
  let root: string
  const call = (args: string[], env: NodeJS.ProcessEnv = {}): { got?: string[], status: number | null } => {
    const out = join(root, 'got')
    rmSync(out, { force: true })
    const r = spawnSync(join(root, 'bin', 'kappa-node'), args, { cwd: root, env: { PATH: process.env.PATH, HOME: '/nohome', ...env }, encoding: 'utf8' })
    return { got: existsSync(out) ? readFileSync(out, 'utf8').split('\0').slice(0, -1) : undefined, status: r.status }
  }

  after(cleanup)
  before(async () => {
    root = await tmpDir()
    mkdirSync(join(root, 'bin'))
    mkdirSync(join(root, 'dist'))
    copyFileSync(join(REPO, 'bin', 'kappa-node'), join(root, 'bin', 'kappa-node'))
    writeFileSync(join(root, 'dist', 'kappa-run'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done > ${JSON.stringify(join(root, 'got'))}\n`, { mode: 0o755 })
  })

  it('translates run\'s options (relative --input and --workspace made absolute) and keeps the command as given', () => {
    assert.deepEqual(call(['run', '--home', '/h', '--peer', 'b', '--env', 'CC', '--no-env', 'TZ', '--input', 'in.txt', '--output', 'out.txt', '--workspace', 'ws', '--stdin', '--', 'make', '-j4', '--', 'x']).got,
      ['-h', '/h', '-m', 'peer', '-p', 'b', '-e', 'CC', '-E', 'TZ', '-I', join(root, 'in.txt'), '-O', 'out.txt', '-w', join(root, 'ws'), '-i', '--', 'make', '-j4', '--', 'x'])
    assert.deepEqual(call(['run', '--remote', 'ls', '-l']).got, ['-h', '/nohome/.kappa', '-m', 'remote', '--', 'ls', '-l'])
    assert.deepEqual(call(['run', '--', 'true'], { KAPPA_HOME: '/k' }).got, ['-h', '/k', '--', 'true'])
  })

  it('leaves to Node what the client does not take: --local, --retry-local, --opt=value, two places, no command, KAPPA_NODE_CLIENT=1', () => {
    for (const args of [['run', '--local', '--', 'x'], ['run', '--retry-local', '--', 'x'], ['run', '--env=CC', '--', 'x'], ['run', '--remote', '--peer', 'b', '--', 'x'], ['run', '--'], ['run', '--home'], ['run', '--help']]) {
      assert.equal(call(args).got, undefined, args.join(' '))
    }
    assert.equal(call(['run', '--', 'x'], { KAPPA_NODE_CLIENT: '1' }).got, undefined)
    assert.equal(call(['run', '--', 'x'], { HOME: '' }).got, undefined)
  })
})
