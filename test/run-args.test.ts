import assert from 'node:assert/strict'
import { parseRunArgs } from '../src/cli/run-main.js'

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
