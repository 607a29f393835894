import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { cli, cleanup, startNode, tmpDir } from '../helpers/node.js'
import { ServiceStack, startAll } from '../../src/daemon/services.js'
import { checkDaemonOptions } from '../../src/daemon/settings.js'
import { debugLogger } from '../../src/debug.js'
import { BadInputError } from '../../src/errors.js'

describe('daemon start-up: parts in order, rolled back on failure (issue 12)', () => {
  afterEach(cleanup)

  it('a part that fails to start stops the ones before it, last first, and the failure goes up', async () => {
    const order: string[] = []
    const stack = new ServiceStack(debugLogger('test'))
    const boom = new Error('port taken')
    await assert.rejects(startAll(stack, async () => {
      await stack.start('a', () => { order.push('start a'); return 'a' }, (v) => { order.push(`stop ${v}`) })
      stack.defer('listener', () => { order.push('stop listener') })
      await stack.start('b', async () => { order.push('start b'); return 'b' }, async (v) => { order.push(`stop ${v}`); throw new Error('b would not stop') })
      await stack.start('c', async () => { throw boom }, () => { order.push('stop c') })
      await stack.start('d', () => { order.push('start d') }, () => { order.push('stop d') })
    }), (err) => err === boom)
    // b failing to stop does not keep a from stopping; c never started, so it is not stopped
    assert.deepEqual(order, ['start a', 'start b', 'stop b', 'stop listener', 'stop a'])
    await stack.stop()
    assert.equal(order.length, 5, 'stop is idempotent')
    await assert.rejects(stack.start('e', () => 1, () => {}), /stopping/)
  })

  it('options are checked before anything starts: --listen, --http, --alias, --bulk-port', () => {
    for (const bad of [{ listen: ['not-a-multiaddr'] }, { http: 'nonsense' }, { http: '127.0.0.1:99999' }, { http: 'host:' }, { alias: 'a b' }, { bulkPort: -1 }]) {
      assert.throws(() => checkDaemonOptions(bad), (err: Error) => err instanceof BadInputError || /bad alias/.test(err.message), JSON.stringify(bad))
    }
    const ok = checkDaemonOptions({ listen: ['/ip4/127.0.0.1/tcp/0'], http: '[::1]:4748' })
    assert.deepEqual(ok, { listen: ['/ip4/127.0.0.1/tcp/0'], bulkHost: '127.0.0.1', http: { host: '::1', port: 4748 } })
    assert.equal(checkDaemonOptions({ http: false }).http, undefined)
  })

  it('a home in use, --http nonsense, a --listen address this machine lacks: one line, non-zero exit, nothing started or left', async () => {
    const running = await startNode('busy')
    const fresh = await tmpDir()
    const cases: Array<{ args: string[], home: string, line: RegExp }> = [
      { home: running.home, args: ['--listen', '/ip4/127.0.0.1/tcp/0'], line: /another kappa-node is already running with this home/ },
      { home: join(fresh, 'h2'), args: ['--http', 'nonsense', '--listen', '/ip4/127.0.0.1/tcp/0'], line: /bad --http address 'nonsense'/ },
      { home: join(fresh, 'h3'), args: ['--listen', '/ip4/203.0.113.9/tcp/4747'], line: /cannot listen on \/ip4\/203\.0\.113\.9\/tcp\/4747: this machine has no address 203\.0\.113\.9/ },
      { home: join(fresh, 'h4'), args: ['--listen', running.addrs[0].replace(/\/p2p\/.*$/, '')], line: /cannot listen on .*: the port is in use/ }
    ]
    for (const c of cases) {
      // cli() resolves when the process has exited by itself: nothing it started keeps it alive
      const r = await cli(['start', '--home', c.home, '--no-mdns', '--metric-override', '5', ...c.args])
      assert.notEqual(r.code, 0, c.args.join(' '))
      assert.equal(r.stdout, '', 'no banner')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, c.line)
      assert.doesNotMatch(r.stderr, /unexpected error|at .*\(node:/)
      if (c.home !== running.home) {
        // checked before anything was made: no key, no socket, no benchmark
        const left = existsSync(c.home) ? readdirSync(c.home) : []
        assert.deepEqual(left, [], `left in the home: ${left.join(', ')}`)
      }
    }
    // the running node was not disturbed
    const status = await cli(['status', '--home', running.home, '--json'])
    assert.equal(status.code, 0, status.stderr)
    assert.equal(JSON.parse(status.stdout).id, running.id)
  })
})
