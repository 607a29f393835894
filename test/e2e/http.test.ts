import assert from 'node:assert/strict'
import { request } from 'node:http'
import { startNode, pairNodes, cleanup, until, onCleanup, PAIR_DELAY } from '../helpers/node.js'
import { DEFAULT_C } from '../../src/balance/index.js'
import { startHttp, hostPolicy } from '../../src/http/index.js'

describe('read-only dashboard and Prometheus /metrics on localhost', function () {
  afterEach(cleanup)

  it('exports the metric, the neighbours and the job counters, serves the page, and changes nothing', async () => {
    const [a, b] = await Promise.all([
      startNode('a', { args: ['--delay', PAIR_DELAY, '--metric-override', '37'] }),
      startNode('b', { args: ['--delay', PAIR_DELAY, '--metric-override', '148'] })
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

describe('dashboard Host names (DNS rebinding)', () => {
  /** GET with a raw Host header (fetch does not let a page or a test set it). */
  const get = async (port: number, host: string | undefined, path = '/status.json'): Promise<{ status: number, body: string }> =>
    await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, setHost: false, headers: host == null ? {} : { host } }, (res) => {
        let body = ''
        res.on('data', (d) => { body += String(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      req.end()
    })

  it('answers the bound address, localhost forms and --http-host names; any other Host gets 421 and one line', async () => {
    let asked = 0
    // only the status document is read here; the dashboard's other sources are never asked for
    const unused = (): never => { throw new Error('not read by this test') }
    const endpoint = await startHttp({
      status: () => { asked++; return { id: 'me', neighbours: [] } },
      state: unused,
      metrics: { contentType: 'text/plain', text: unused } as unknown as Parameters<typeof startHttp>[0]['metrics'],
      onChange: () => () => {},
      log: () => {}
    }, '127.0.0.1:0', { hosts: ['kappa.lan'] })
    assert.ok(endpoint != null)
    onCleanup(async () => { await endpoint.close() })
    const port = Number(endpoint.address.split(':').pop())
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LOCALHOST', 'dash.localhost', '[::1]:80', 'kappa.lan', 'Kappa.LAN.:8080']) {
      const r = await get(port, host)
      assert.equal(r.status, 200, host)
      assert.equal(JSON.parse(r.body).id, 'me')
    }
    const served = asked
    for (const host of ['evil.example', `evil.example:${port}`, 'kappa.lan.evil.example', '10.1.2.3', 'localhost.evil.example']) {
      const r = await get(port, host)
      assert.equal(r.status, 421, String(host))
      assert.equal(r.body.trim().split('\n').length, 1)
      assert.match(r.body, /does not serve the host name/)
    }
    // no Host at all: Node's HTTP/1.1 parser refuses it before the dashboard sees it
    assert.equal((await get(port, undefined)).status, 400)
    assert.equal(asked, served, 'a refused request never reads the node\'s status')
    await cleanup()
  })

  it('bound to a wildcard address, the machine\'s own addresses count as the bound address', () => {
    const policy = hostPolicy('0.0.0.0', [], () => ['127.0.0.1', '192.168.1.5', 'fe80::1'])
    assert.equal(policy.allows('192.168.1.5:4748'), true)
    assert.equal(policy.allows('[fe80::1]:4748'), true)
    assert.equal(policy.allows('192.168.1.6:4748'), false)
    assert.equal(policy.allows('rebind.example:4748'), false)
    const one = hostPolicy('192.168.1.5', [], () => ['192.168.1.5', '10.0.0.2'])
    assert.equal(one.allows('10.0.0.2'), false, 'bound to one address, another of the machine\'s is not it')
  })
})
