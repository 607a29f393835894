import assert from 'node:assert/strict'
import { startNode, pairNodes, cleanup, until } from './helpers/node.js'
import { DEFAULT_C } from '../src/balance/index.js'

describe('read-only dashboard and Prometheus /metrics on localhost', function () {
  afterEach(cleanup)

  it('exports the metric, the neighbours and the job counters, serves the page, and changes nothing', async () => {
    const [a, b] = await Promise.all([
      startNode('a', { args: ['--delay', '100', '--metric-override', '37'] }),
      startNode('b', { args: ['--delay', '100', '--metric-override', '148'] })
    ])
    await pairNodes(a, b)
    const ready = a.events.find(e => e.type === 'ready')
    assert.match(ready.dashboard, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    const base = ready.dashboard as string
    const metrics = await until('B\'s value in /metrics', async () => {
      const text = await (await fetch(`${base}metrics`)).text()
      return text.includes(`kappa_neighbour_dismetric{peer="${b.id}"} ${148 - DEFAULT_C}`) ? text : undefined
    })
    assert.match(metrics, /^kappa_sysmetric 37$/m)
    assert.match(metrics, /^# TYPE kappa_jobs_total counter$/m)
    assert.match(metrics, new RegExp(`^kappa_neighbour_live\\{peer="${b.id}"\\} 1$`, 'm'))
    // labels carry peer ids only; the alias is in an info metric (renaming a peer keeps its series)
    assert.match(metrics, new RegExp(`^kappa_peer_info\\{peer="${b.id}",alias="b"\\} 1$`, 'm'))
    assert.match(metrics, /^kappa_paired_peers 1$/m)
    assert.match(metrics, /^kappa_connected_peers 1$/m)
    assert.match(metrics, /^process_cpu_seconds_total \d/m)
    assert.match(metrics, /^kappa_build_info\{version="\d+\.\d+\.\d+",nodejs="v\d+/m)
    const status = await (await fetch(`${base}status.json`)).json() as any
    assert.equal(status.id, a.id)
    const page = await fetch(base)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    assert.match(await page.text(), /<title>kappa-node<\/title>/)
    assert.equal((await fetch(`${base}metrics`, { method: 'POST' })).status, 405)
    assert.equal((await fetch(`${base}nope`)).status, 404)
  })
})
