import assert from 'node:assert/strict'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { TrustStore, TrustWriteError } from '../../src/trust/index.js'
import { startNode, cleanup, tmpDir } from '../helpers/node.js'

const A = '12D3KooWGzBsgByKPTBZ8XzRxEdMHuT8R1ZJ6ha3s2mrxnxvT7qb'
const B = '12D3KooWRy7tY4yz9Fb5Mce6FCexg3eZbd8oVZxWWZ9jcpSRPzbL'

/** `trust.json` turned into a non-empty directory: every atomic write (a rename over it) fails, reads of the store in memory go on. */
async function breakWrites (path: string): Promise<void> {
  await rm(path, { force: true })
  await mkdir(join(path, 'blocked'), { recursive: true })
}

describe('trust store: memory changes only after the disk', () => {
  afterEach(cleanup)

  it('a failed write leaves the peers as they were, in memory and on disk; the next write works', async () => {
    const path = join(await tmpDir(), 'trust.json')
    const store = await TrustStore.load(path)
    await store.add({ id: A, alias: 'a', addrs: [], pairedAt: 1 })
    const before = await readFile(path, 'utf8')

    await breakWrites(path)
    await assert.rejects(store.add({ id: B, addrs: [], pairedAt: 2 }), (err: Error) => err instanceof TrustWriteError && /nothing was changed/.test(err.message) && !err.message.includes('\n'))
    assert.equal(store.has(B), false, 'not paired in memory when the disk does not say so')
    await assert.rejects(store.remove(A), TrustWriteError)
    assert.equal(store.has(A), true, 'still paired in memory: the disk still says so')
    await assert.rejects(store.update(A, { alias: 'renamed' }), TrustWriteError)
    assert.equal(store.get(A)?.alias, 'a')

    await rm(path, { recursive: true })
    await store.add({ id: B, addrs: [], pairedAt: 2 })
    assert.deepEqual(store.list().map(p => p.id), [A, B])
    const reloaded = await TrustStore.load(path)
    assert.deepEqual(reloaded.list().map(p => [p.id, p.alias]), [[A, 'a'], [B, undefined]])
    assert.notEqual(await readFile(path, 'utf8'), before)
  })

  it('changes made at once are written together, in the order they came; a failed write fails each of them', async () => {
    const path = join(await tmpDir(), 'trust.json')
    const store = await TrustStore.load(path)
    await store.add({ id: A, alias: 'a', addrs: [], pairedAt: 1 })
    const renames = Array.from({ length: 20 }, (_, i) => store.update(A, { alias: `a${i}` }))
    await Promise.all([...renames, store.add({ id: B, addrs: [], pairedAt: 2 })])
    assert.equal(store.get(A)?.alias, 'a19')
    assert.deepEqual((await TrustStore.load(path)).list().map(p => [p.id, p.alias]), [[A, 'a19'], [B, undefined]])

    await breakWrites(path)
    const results = await Promise.allSettled([store.update(A, { alias: 'x' }), store.remove(B), store.update(A, { alias: 'y' })])
    assert.ok(results.every(r => r.status === 'rejected' && r.reason instanceof TrustWriteError))
    assert.equal(store.get(A)?.alias, 'a19')
    assert.equal(store.has(B), true)
  })

  it('pairing by invite fails with one line on both ends when the inviter cannot write its store; the same invite works once it can', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    const { invite } = await b.json(['invite'])
    const trustB = join(b.home, 'trust.json')
    await breakWrites(trustB)
    const failed = await a.cli(['pair', invite])
    assert.equal(failed.code, 1)
    assert.equal(failed.stderr.trim().split('\n').length, 1)
    assert.match(failed.stderr, /refused: this node could not save the pairing/)
    assert.deepEqual(await b.json(['peers']), [], 'B did not pair in memory')
    assert.deepEqual(await a.json(['peers']), [])
    const warning = await b.waitForEvent(e => e.type === 'warning' && /pairing with .* failed: cannot write the trust store/.test(e.message))
    assert.doesNotMatch(warning.message, /\n/)

    await rm(trustB, { recursive: true })
    assert.equal((await a.cli(['pair', invite])).code, 0)
    assert.deepEqual((await b.json(['peers'])).map((p: any) => p.id), [a.id])
    assert.match(await readFile(trustB, 'utf8'), new RegExp(a.id))
  })

  it('the side that runs pair reports one line when its own store cannot be written, and is not paired', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    const { invite } = await b.json(['invite'])
    await breakWrites(join(a.home, 'trust.json'))
    const failed = await a.cli(['pair', invite])
    assert.equal(failed.code, 1)
    assert.equal(failed.stderr.trim().split('\n').length, 1)
    assert.match(failed.stderr, /accepted, but cannot write the trust store .*; run the same pair command again/)
    assert.deepEqual(await a.json(['peers']), [])
    await rm(join(a.home, 'trust.json'), { recursive: true })
    // B has A already: pairing again is answered "paired", and A records it now
    assert.equal((await a.cli(['pair', b.addrs[0]])).code, 0)
    assert.deepEqual((await a.json(['peers'])).map((p: any) => p.id), [b.id])
  })
})
