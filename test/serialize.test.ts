import assert from 'node:assert/strict'
import { serializer } from '../src/serialize.js'

/** A promise the test settles when it wants. */
function gate<T = void> (): { promise: Promise<T>, open: (v: T) => void, fail: (e: Error) => void } {
  let open!: (v: T) => void
  let fail!: (e: Error) => void
  const promise = new Promise<T>((resolve, reject) => { open = resolve; fail = reject })
  return { promise, open, fail }
}

const ticks = async (n = 5): Promise<void> => { for (let i = 0; i < n; i++) await Promise.resolve() }

describe('serializer (one turn at a time)', () => {
  it('runs turns one at a time in the order asked, each with its own result', async () => {
    const turns = serializer()
    const log: string[] = []
    const first = gate<string>()
    const a = turns(async () => { log.push('a starts'); const v = await first.promise; log.push('a ends'); return v })
    const b = turns(async () => { log.push('b runs'); return 2 })
    await ticks()
    assert.deepEqual(log, ['a starts'], 'b waits while a is running')
    first.open('one')
    assert.equal(await a, 'one')
    assert.equal(await b, 2)
    assert.deepEqual(log, ['a starts', 'a ends', 'b runs'])
  })

  it('a failed turn rejects its own caller only: the next turn runs, and a turn is not handed the one before\'s result', async () => {
    const turns = serializer()
    const failing = turns(async () => { throw new Error('turn one broke') })
    const throwsAtOnce = turns((() => { throw new Error('turn two threw before returning a promise') }) as () => Promise<void>)
    const next = turns(async (...args: unknown[]) => args.length)
    await assert.rejects(failing, /turn one broke/)
    await assert.rejects(throwsAtOnce, /turn two threw/)
    assert.equal(await next, 0)
  })

  it('settled() waits for every turn asked for so far, failed ones included, and never rejects', async () => {
    const turns = serializer()
    const slow = gate()
    const done: string[] = []
    void turns(async () => { await slow.promise; done.push('slow') })
    turns(async () => { done.push('failing'); throw new Error('no') }).catch(() => { done.push('caller saw it') })
    let settled = false
    const all = turns.settled().then(() => { settled = true })
    await ticks()
    assert.equal(settled, false)
    slow.open()
    await all
    assert.deepEqual(done.slice(0, 2), ['slow', 'failing'])
    assert.equal(settled, true)
  })
})
