import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startNode, pairNodes, cleanup, until } from '../helpers/node.js'
import { parseTrustFile } from '../../src/trust/index.js'
import { callDaemon } from '../../src/control/client.js'

describe('identity and trust store survive SIGKILL', function () {
  afterEach(cleanup)

  it('a node killed with SIGKILL and restarted keeps its peer id and its pairings, and reconnects', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    await pairNodes(a, b)
    await a.kill('SIGKILL')
    const again = await startNode('a', { home: a.home })
    assert.equal(again.id, a.id)
    const peers = await again.json(['peers'])
    assert.deepEqual(peers.map((p: any) => [p.id, p.alias]), [[b.id, 'b']])
    // A knows where B is and redials it; B sees A again without re-pairing
    await until('A reconnects to B', async () => (await again.json(['peers']))[0].connected === true)
    await until('B sees A connected', async () => (await b.json(['peers'])).find((p: any) => p.id === a.id)?.connected === true)
  })

  it('the trust store is never half-written: SIGKILL during a burst of pair/unpair/alias writes', async () => {
    const [a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')])
    await pairNodes(a, b)
    for (let round = 0; round < 3; round++) {
      // writes in flight until the kill lands: renames of B over the control socket (four at a
      // time), and C paired and unpaired through the CLI
      let dead = false
      let renames = 0
      const renaming = async (): Promise<void> => {
        while (!dead) {
          await callDaemon(a.home, 'alias', { peer: b.id, alias: `b${round}-${renames++}` }).catch(() => { dead = true })
        }
      }
      const burst = [renaming(), renaming(), renaming(), renaming(), (async () => {
        for (let i = 0; i < 3 && !dead; i++) {
          await pairNodes(a, c).catch(() => {})
          await a.cli(['unpair', c.id])
        }
      })()]
      await until('a few renames to land', async () => renames >= 10 * (round + 1))
      await a.kill('SIGKILL')
      dead = true
      await Promise.allSettled(burst)

      const text = await readFile(join(a.home, 'trust.json'), 'utf8')
      const peers = parseTrustFile(text, 'trust.json') // throws on a torn file
      assert.ok(peers.some(p => p.id === b.id), 'B is still paired')
      const restarted = await startNode('a', { home: a.home })
      assert.equal(restarted.id, a.id)
      assert.ok((await restarted.json(['peers'])).some((p: any) => p.id === b.id))
      // no stray temp files left behind by the killed writer
      assert.deepEqual((await readdir(a.home)).filter(f => f.endsWith('.tmp')), [])
      Object.assign(a, restarted)
      // C may still think it is paired with A; start clean for the next round
      for (const p of await c.json(['peers'])) await c.cli(['unpair', p.id])
    }
  })
})
