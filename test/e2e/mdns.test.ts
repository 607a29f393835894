import assert from 'node:assert/strict'
import { startNode, cleanup, until } from '../helpers/node.js'

describe('LAN discovery (mDNS) only suggests', function () {
  afterEach(cleanup)

  it('two nodes on one host list each other in discover, and nothing is paired until consent', async () => {
    // a private mDNS port keeps the test off any real LAN's 5353
    const port = String(20_000 + Math.floor(Math.random() * 20_000))
    const args = ['--mdns-port', port, '--mdns-interval', '300']
    const [a, b] = await Promise.all([startNode('a', { mdns: true, args }), startNode('b', { mdns: true, args })])

    const seenByA = await until('A discovers B', async () => (await a.json(['discover'])).find((p: any) => p.id === b.id))
    const seenByB = await until('B discovers A', async () => (await b.json(['discover'])).find((p: any) => p.id === a.id))
    assert.ok(seenByA.addrs.some((x: string) => x.endsWith(`/p2p/${b.id}`)))
    assert.ok(seenByB.addrs.length > 0)
    // the daemon logs a suggestion, and dials nothing
    await a.waitForEvent(e => e.type === 'discovered' && e.id === b.id)
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.deepEqual(await a.json(['peers']), [])
    assert.deepEqual(await b.json(['peers']), [])
    assert.deepEqual(await b.json(['requests']), [])

    // consent on both ends: A asks, B accepts
    assert.equal((await a.json(['pair', seenByA.addrs[0]])).status, 'pending')
    await b.json(['accept', a.id])
    assert.deepEqual((await a.json(['peers'])).map((p: any) => p.id), [b.id])
    // a paired node is no longer a suggestion
    assert.equal((await a.json(['discover'])).find((p: any) => p.id === b.id), undefined)
  })
})
