import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { pbStream } from '@libp2p/utils'
import { startNode, pairNodes, cleanup, cleanupKept, sharedNodes, cli, tmpDir, until } from '../helpers/node.js'
import { libp2pClient } from '../helpers/client.js'
import { PairRequest, PairResponse } from '../../src/wire/pair.js'
import { PROTOCOL_PAIR } from '../../src/constants.js'

describe('pairing and access control (three processes on 127.0.0.1)', function () {
  afterEach(cleanup)
  after(cleanupKept)
  /** Two plain nodes for the request/accept test, which leaves them unpaired again, and the bad-input test, which needs no peer. */
  const plain = sharedNodes(async () => await Promise.all([startNode('a'), startNode('b')]))

  it('pairs a chain A–B–C by invite lines; A sees only B; a client with A\'s key is refused by C', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')])
    await pairNodes(a, b)
    await pairNodes(c, b)

    const peersA = await a.json(['peers'])
    assert.deepEqual(peersA.map((p: any) => p.id), [b.id])
    assert.equal(peersA[0].alias, 'b')
    const peersB = await b.json(['peers'])
    assert.deepEqual(peersB.map((p: any) => p.id).sort(), [a.id, c.id].sort())
    assert.deepEqual((await c.json(['peers'])).map((p: any) => p.id), [b.id])
    await until('A connected to B', async () => (await a.json(['peers']))[0].connected === true)

    // impersonate A towards C, which A is not paired with
    const client = await libp2pClient(a.home)
    assert.equal(client.peerId.toString(), a.id)
    const connection = await client.dial(multiaddr(c.addrs[0]))
    // the pairing protocol answers anyone, but only redeems real tokens
    const stream = await connection.newStream(PROTOCOL_PAIR)
    const messages = pbStream(stream)
    await messages.write({ kind: PairRequest.Kind.REDEEM, token: 'AAAAAAAAAAAAAAAAAAAAAA', alias: 'mallory', addrs: [] }, PairRequest)
    const response = await messages.read(PairResponse)
    assert.equal(response.status, PairResponse.Status.REFUSED)
    assert.match(response.error, /unknown invite token/)
    // …and hangs up on the stranger once the exchange is over
    await until('C hangs up on the stranger', async () => connection.status !== 'open', 5000)
    assert.deepEqual((await c.json(['peers'])).map((p: any) => p.id), [b.id])
  })

  it('with pairing requests off, C refuses a stranger\'s connection outright', async () => {
    const c = await startNode('c', { args: ['--no-pair-requests'] })
    // a peer, paired by an invite that is then used up: no invite is open
    const other = await startNode('x')
    await other.json(['pair', (await c.json(['invite'])).invite])
    const client = await libp2pClient()
    await assert.rejects(async () => {
      const conn = await client.dial(multiaddr(c.addrs[0]))
      await conn.newStream(PROTOCOL_PAIR)
    })
    assert.deepEqual((await c.json(['peers'])).map((p: any) => p.id), [other.id])
  })

  it('a token works once; used, expired and wrong tokens are refused with a clear message', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')])
    const { invite } = await b.json(['invite'])
    assert.equal((await a.cli(['pair', invite])).code, 0)

    const used = await c.cli(['pair', invite])
    assert.equal(used.code, 1)
    assert.match(used.stderr, /invite token already used/)
    assert.equal(used.stderr.trim().split('\n').length, 1)

    const wrong = await c.cli(['pair', invite.replace(/kappa:[^@]{4}/, 'kappa:ZZZZ')])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /unknown invite token/)

    const short = await b.json(['invite', '--ttl', '1s'])
    await new Promise(resolve => setTimeout(resolve, 1200))
    const expired = await c.cli(['pair', short.invite])
    assert.equal(expired.code, 1)
    assert.match(expired.stderr, /invite token expired/)
    assert.deepEqual((await c.json(['peers'])), [])
    assert.deepEqual((await b.json(['peers'])).map((p: any) => p.id), [a.id])
  })

  it('pair <multiaddr> sends a request that only the owner\'s accept turns into a pairing', async () => {
    const [a, b] = await plain.get()
    const sent = await a.json(['pair', b.addrs[0]])
    assert.equal(sent.status, 'pending')
    await b.waitForEvent(e => e.type === 'pair-request' && e.id === a.id)
    const requests = await b.json(['requests'])
    assert.deepEqual(requests.map((r: any) => r.id), [a.id])
    assert.deepEqual(await a.json(['peers']), [])
    assert.deepEqual(await b.json(['peers']), [])

    const accepted = await b.json(['accept', 'a'])
    assert.equal(accepted.status, 'paired')
    assert.deepEqual((await a.json(['peers'])).map((p: any) => p.id), [b.id])
    assert.deepEqual((await b.json(['peers'])).map((p: any) => p.id), [a.id])
    assert.deepEqual(await b.json(['requests']), [])

    const again = await a.cli(['pair', b.addrs[0]])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already paired with b/)

    // unpair removes both ends
    await a.json(['unpair', 'b'])
    assert.deepEqual(await a.json(['peers']), [])
    await until('B forgets A', async () => (await b.json(['peers'])).length === 0)
  })

  it('an accept without a request, and bad input, give one clear line and exit 1', async () => {
    const [a] = await plain.get()
    const cases: Array<[string[], RegExp]> = [
      [['accept', 'nobody'], /no pending pairing request from 'nobody'/],
      [['unpair', 'nobody'], /not paired with 'nobody'/],
      [['pair', 'not-an-address'], /not a valid multiaddr/],
      [['pair', '/ip4/127.0.0.1/tcp/9'], /has no \/p2p\/<peer id>/],
      [['pair', `/ip4/127.0.0.1/tcp/9/p2p/${'12D3KooWLxphEMtZFpVvSem7jUEpjBQUBMrSut2SSGKcZb8Wn7yd'}`], /could not reach .* connection refused/],
      [['pair', 'kappa:short@/ip4/127.0.0.1/tcp/9'], /malformed invite line/],
      [['pair', a.addrs[0]], /this node's own address/],
      [['alias', 'nobody', 'x'], /not paired with 'nobody'/]
    ]
    for (const [args, pattern] of cases) {
      const r = await a.cli(args)
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, pattern)
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /\n\s+at /)
    }
    // and the node is still answering
    assert.equal((await a.json(['id'])).id, a.id)
  })

  it('status, peers and discover with the daemon stopped exit 1 with one line saying how to start it', async () => {
    const home = await tmpDir()
    for (const cmd of ['status', 'peers', 'discover', 'id', 'invite', 'requests']) {
      const r = await cli([cmd, '--home', home])
      assert.equal(r.code, 1, cmd)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.trim().split('\n').length, 1)
      assert.match(r.stderr, /the node is not running .*start it with: kappa-node start --home /)
    }
    // KAPPA_HOME works too, and the hint does not repeat --home then
    const r = await cli(['status'], { KAPPA_HOME: home })
    assert.match(r.stderr, /start it with: kappa-node start\n$/)
  })
})
