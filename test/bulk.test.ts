import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { createConnection, type Socket } from 'node:net'
import { RecordSealer, RecordOpener, RecordError, deriveBulkKeys } from '../src/bulk/records.js'
import { createBulkListener, connectBulk, type BulkConnection, type BulkListener } from '../src/bulk/index.js'
import { until } from './helpers/node.js'
import { BULK_MAX_RECORD_BYTES, BULK_MAX_UNPROVEN } from '../src/constants.js'

const MAX = 1024 * 1024

/** Every record opened from `bytes` fed in pieces cut at random places. */
function openAll (opener: RecordOpener, bytes: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = []
  let i = 0
  let x = seed
  while (i < bytes.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const n = 1 + (x % 70_000)
    opener.push(bytes.subarray(i, i + n), (r) => { out.push(Buffer.concat(r)) })
    i += n
  }
  return out
}

describe('bulk records (AES-256-GCM, keyed per direction, an end record, key updates)', () => {
  const keys = deriveBulkKeys(randomBytes(32), randomBytes(16))

  it('round-trip whatever the cuts: empty, small, many-piece and maximum-size records, in order', () => {
    const sealer = new RecordSealer(keys.targetToOrigin, MAX)
    const plain = [Buffer.alloc(0), Buffer.from('x'), randomBytes(70_000), randomBytes(MAX), randomBytes(123)]
    const wire = Buffer.concat(plain.flatMap((p, i) => sealer.seal(i === 2 ? [p.subarray(0, 5), p.subarray(5, 60_000), p.subarray(60_000)] : [p])))
    for (const seed of [1, 2, 3]) {
      const opened = openAll(new RecordOpener(keys.targetToOrigin, MAX), wire, seed)
      assert.deepEqual(opened.map(b => b.toString('hex')), plain.map(b => b.toString('hex')))
    }
  })

  it('an end record ends the stream authenticated; nothing may follow it, and a forged one fails', () => {
    const sealer = new RecordSealer(keys.originToTarget, MAX)
    const wire = Buffer.concat([...sealer.seal([Buffer.from('last')]), ...sealer.sealEnd()])
    const opener = new RecordOpener(keys.originToTarget, MAX)
    const got: string[] = []
    opener.push(wire.subarray(0, wire.length - 1), (r) => { got.push(Buffer.concat(r).toString()) })
    assert.equal(opener.complete, false, 'a FIN one byte before the end record\'s tag is a cut, not an end')
    opener.push(wire.subarray(wire.length - 1), () => {})
    assert.equal(opener.complete, true)
    assert.deepEqual(got, ['last'])
    assert.throws(() => { opener.push(Buffer.from('more'), () => {}) }, RecordError)
    // an end header without the right tag (a man in the middle cannot end the stream early)
    const forged = Buffer.concat([...new RecordSealer(keys.targetToOrigin, MAX).sealEnd()])
    assert.throws(() => { new RecordOpener(keys.originToTarget, MAX).push(forged, () => {}) }, RecordError)
  })

  it('keys are updated every so many records on both sides; an old key opens nothing newer', () => {
    const every = 3
    const sealer = new RecordSealer(keys.targetToOrigin, MAX, every)
    const records = Array.from({ length: 10 }, (_, i) => Buffer.concat(sealer.seal([Buffer.from(`record ${i}`)])))
    const opener = new RecordOpener(keys.targetToOrigin, MAX, every)
    const got: string[] = []
    for (const r of records) opener.push(r, (p) => { got.push(Buffer.concat(p).toString()) })
    assert.deepEqual(got, records.map((_, i) => `record ${i}`))
    // an opener that never updates its key fails at the first record past the update
    const stale = new RecordOpener(keys.targetToOrigin, MAX, 1_000)
    for (const r of records.slice(0, every)) stale.push(r, () => {})
    assert.throws(() => { stale.push(records[every], () => {}) }, RecordError)
  })

  it('refuses a flipped bit, a changed length, a swapped order, the other direction\'s key and an oversized record', () => {
    const seal = (): Buffer[] => { const s = new RecordSealer(keys.originToTarget, MAX); return [Buffer.concat(s.seal([Buffer.from('first')])), Buffer.concat(s.seal([Buffer.from('second')]))] }
    const fails = (bytes: Buffer, key = keys.originToTarget): void => {
      assert.throws(() => { new RecordOpener(key, MAX).push(bytes, () => {}) }, RecordError)
    }
    const [a, b] = seal()
    const flipped = Buffer.from(a); flipped[6] ^= 1
    fails(flipped)
    const longer = Buffer.from(a); longer.writeUInt32BE(4, 0)
    fails(Buffer.concat([longer, b]))
    fails(Buffer.concat([b, a]))
    fails(a, keys.targetToOrigin)
    const huge = Buffer.alloc(4); huge.writeUInt32BE(MAX + 1, 0)
    fails(huge)
    assert.throws(() => new RecordSealer(keys.originToTarget, 10).seal([randomBytes(11)]), RecordError)
  })
})

describe('bulk port: offers, proofs, strangers, tricklers and cut connections', function () {
  this.timeout(20_000)
  let listener: BulkListener
  const opened: Array<BulkConnection | Socket> = []
  beforeEach(async () => { listener = await createBulkListener({ host: '127.0.0.1' }) })
  afterEach(async () => {
    for (const c of opened.splice(0)) c.destroy()
    await listener.close()
  })

  const received = (conn: BulkConnection): Buffer[] => {
    const got: Buffer[] = []
    conn.onRecords((r) => { got.push(Buffer.concat(r)) })
    return got
  }

  it('an offer taken with its secret carries records both ways, in order, until both ends finish', async () => {
    const handle = listener.offer()
    const origin = await connectBulk('127.0.0.1', handle.offer, AbortSignal.timeout(5000))
    const target = await handle.connection
    opened.push(origin, target)
    const atTarget = received(target)
    const atOrigin = received(origin)
    const big = randomBytes(3 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 256 * 1024) target.send([big.subarray(i, i + 256 * 1024)])
    origin.send([Buffer.from('stdin')])
    let ended = false
    origin.onEnd(() => { ended = true })
    await target.end()
    await until('the records and the end to arrive', async () => ended && atTarget.length === 1)
    assert.equal(createHash('sha256').update(Buffer.concat(atOrigin)).digest('hex'), createHash('sha256').update(big).digest('hex'))
    assert.equal(atTarget[0].toString(), 'stdin')
    // half-closed: the origin's direction goes on after the target's ended, then ends cleanly
    let targetEnded = false
    target.onEnd(() => { targetEnded = true })
    origin.send([Buffer.from('more stdin')])
    await origin.end()
    await until('the origin\'s last record and its end', async () => targetEnded && atTarget.length === 2)
    assert.equal(atTarget[1].toString(), 'more stdin')
  })

  it('drops connections that name no offer, garbage, a forged proof and a spent offer; the port goes on', async () => {
    const dropped = async (bytes: Buffer): Promise<void> => {
      const s = createConnection(listener.port, '127.0.0.1')
      opened.push(s)
      s.on('error', () => {})
      s.on('connect', () => { s.write(bytes) })
      await new Promise(resolve => s.once('close', resolve))
    }
    await dropped(randomBytes(16))
    await dropped(randomBytes(5000))
    const handle = listener.offer()
    handle.connection.catch(() => {})
    // the right id with a record sealed under a key derived from another secret
    const forged = new RecordSealer(deriveBulkKeys(randomBytes(32), handle.offer.id).originToTarget, MAX).seal([Buffer.from('kappa-bulk/1 hello')])
    await dropped(Buffer.concat([Buffer.from(handle.offer.id), ...forged]))
    await assert.rejects(handle.connection)
    // one try per offer: the id is spent
    await assert.rejects(connectBulk('127.0.0.1', handle.offer, AbortSignal.timeout(5000)))
    // and a fresh offer still works
    const next = listener.offer()
    const ok = await connectBulk('127.0.0.1', next.offer, AbortSignal.timeout(5000))
    opened.push(ok, await next.connection)
  })

  it('connections that trickle a byte at a time are closed at the deadline from accept; then an offer works', async () => {
    const trickled = await createBulkListener({ host: '127.0.0.1', helloTimeoutMs: 400 })
    try {
      // each names a live offer of its own and starts the largest record there is, then sends
      // one byte every 100 ms: it never fails a check, and each byte would reset an idle timeout
      const tricklers = Array.from({ length: BULK_MAX_UNPROVEN }, () => {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(BULK_MAX_RECORD_BYTES)
        const prefix = Buffer.concat([trickled.offer().offer.id, header])
        const s = createConnection(trickled.port, '127.0.0.1')
        opened.push(s)
        s.on('error', () => {})
        s.on('connect', () => { s.write(prefix) })
        let sent = 0
        const timer = setInterval(() => { if (!s.destroyed) { s.write(Buffer.of(0)); sent++ } }, 100)
        return new Promise<number>(resolve => s.once('close', () => { clearInterval(timer); resolve(sent) }))
      })
      const sentBeforeClose = await Promise.all(tricklers)
      assert.ok(sentBeforeClose.every(n => n > 0), 'each was still trickling when it was closed')
      const next = trickled.offer()
      const ok = await connectBulk('127.0.0.1', next.offer, AbortSignal.timeout(5000))
      opened.push(ok, await next.connection)
    } finally {
      for (const c of opened.splice(0)) c.destroy()
      await trickled.close()
    }
  })

  it('a FIN between records, and a FIN inside a record, are a connection cut short, never a clean end', async () => {
    for (const how of ['FIN between records', 'FIN inside a record'] as const) {
      const handle = listener.offer()
      // the origin's side by hand (its proof, then records), ended as a crash or an attacker on the path would
      const keys = deriveBulkKeys(handle.offer.secret, handle.offer.id)
      const sealer = new RecordSealer(keys.originToTarget, MAX)
      const s = createConnection({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true })
      opened.push(s)
      s.on('error', () => {})
      await new Promise(resolve => s.once('connect', resolve))
      s.write(Buffer.concat([Buffer.from(handle.offer.id), ...sealer.seal([Buffer.from('kappa-bulk/1 hello')])]))
      const target = await handle.connection
      opened.push(target)
      const got = received(target)
      let ended = false
      target.onEnd(() => { ended = true })
      const closed = new Promise<Error | undefined>(resolve => target.onClose(resolve))
      const records = Buffer.concat([...sealer.seal([Buffer.from('one')]), ...sealer.seal([Buffer.from('two')])])
      s.end(how === 'FIN inside a record' ? records.subarray(0, records.length - 1) : records)
      const err = await closed
      assert.equal(ended, false, how)
      assert.match(String(err?.message), /cut short/, how)
      assert.deepEqual(got.map(b => b.toString()), how === 'FIN inside a record' ? ['one'] : ['one', 'two'], how)
    }
  })

  it('an offer withdrawn before it was taken cannot be taken; a malformed offer is refused before any connection', async () => {
    const handle = listener.offer()
    handle.cancel()
    await assert.rejects(handle.connection, /withdrawn/)
    await assert.rejects(connectBulk('127.0.0.1', handle.offer, AbortSignal.timeout(5000)))
    await assert.rejects(connectBulk('127.0.0.1', { ...handle.offer, secret: new Uint8Array(3) }, AbortSignal.timeout(5000)), /malformed/)
  })
})
