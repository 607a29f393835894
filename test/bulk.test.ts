import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { createConnection, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { RecordReader, FramingError, encodeRecord, encodeEnd } from '../src/bulk/framing.js'
import { clientTlsOptions } from '../src/bulk/tls.js'
import { createBulkListener, connectBulk, type BulkConnection, type BulkListener } from '../src/bulk/index.js'
import { until } from './helpers/node.js'
import { BULK_MAX_UNPROVEN } from '../src/constants.js'

const MAX = 1024 * 1024

/** Every record read from `bytes` fed in pieces cut at random places: fresh ones, or one scratch buffer overwritten after each push. */
function readAll (reader: RecordReader, bytes: Buffer, seed: number, reused = false): Buffer[] {
  const records: Buffer[][] = []
  const scratch = Buffer.alloc(70_000)
  let i = 0
  let x = seed
  while (i < bytes.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const n = Math.min(1 + (x % 70_000), bytes.length - i)
    if (reused) {
      bytes.copy(scratch, 0, i, i + n)
      reader.pushReused(scratch.subarray(0, n), (r) => { records.push(r) })
      scratch.fill(0xee)
    } else {
      reader.push(Buffer.from(bytes.subarray(i, i + n)), (r) => { records.push(r) })
    }
    i += n
  }
  return records.map(r => Buffer.concat(r))
}

describe('bulk records (length-framed inside TLS, with an end record)', () => {
  it('round-trip whatever the cuts: empty, small, many-piece and maximum-size records, in order, then the end', () => {
    const plain = [Buffer.alloc(0), Buffer.from('x'), randomBytes(70_000), randomBytes(MAX), randomBytes(123)]
    const wire = Buffer.concat([...plain.map((p, i) => encodeRecord(i === 2 ? [p.subarray(0, 5), p.subarray(5, 60_000), p.subarray(60_000)] : [p], MAX)), encodeEnd()])
    for (const seed of [1, 2, 3]) {
      for (const reused of [false, true]) {
        const reader = new RecordReader(MAX)
        assert.deepEqual(readAll(reader, wire, seed, reused).map(b => b.toString('hex')), plain.map(b => b.toString('hex')))
        assert.equal(reader.complete, true)
      }
    }
  })

  it('refuses an oversized record and anything after the end; the end is only the end record', () => {
    const huge = Buffer.alloc(4); huge.writeUInt32BE(MAX + 1, 0)
    assert.throws(() => { new RecordReader(MAX).push(huge, () => {}) }, FramingError)
    assert.throws(() => encodeRecord([randomBytes(11)], 10), FramingError)
    const reader = new RecordReader(MAX)
    reader.push(encodeRecord([Buffer.from('a')], MAX), () => {})
    assert.equal(reader.complete, false, 'a FIN here would be a connection cut short')
    assert.throws(() => { reader.push(Buffer.concat([encodeEnd(), Buffer.from('more')]), () => {}) }, FramingError)
  })
})

describe('bulk port: TLS 1.3 keyed by the offer; strangers, tricklers and cut connections', function () {
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

  it('drops connections that name no offer, garbage, a wrong key and a spent offer; the port goes on', async () => {
    const dropped = async (bytes: Buffer): Promise<void> => {
      const s = createConnection(listener.port, '127.0.0.1')
      opened.push(s)
      s.on('error', () => {})
      s.on('connect', () => { s.write(bytes) })
      await new Promise(resolve => s.once('close', resolve))
    }
    await dropped(randomBytes(16))
    await dropped(randomBytes(5000))
    // a well-formed handshake naming no live offer
    await assert.rejects(connectBulk('127.0.0.1', { port: listener.port, id: randomBytes(16), secret: randomBytes(32) }, AbortSignal.timeout(5000)))
    const handle = listener.offer()
    handle.connection.catch(() => {})
    // the right id with another secret
    await assert.rejects(connectBulk('127.0.0.1', { ...handle.offer, secret: randomBytes(32) }, AbortSignal.timeout(5000)))
    await assert.rejects(handle.connection)
    // one try per offer: the id is spent
    await assert.rejects(connectBulk('127.0.0.1', handle.offer, AbortSignal.timeout(5000)))
    // and a fresh offer still works
    const next = listener.offer()
    const ok = await connectBulk('127.0.0.1', next.offer, AbortSignal.timeout(5000))
    opened.push(ok, await next.connection)
  })

  it('a FIN between records, a TLS close without the end record, and a FIN inside a record are cut short, never a clean end', async () => {
    for (const how of ['FIN between records', 'close_notify without the end record', 'FIN inside a record'] as const) {
      const handle = listener.offer()
      // the origin's side by hand, to end it the way an attacker on the path (or a crash) would
      const tcp = createConnection({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true })
      tcp.on('error', () => {})
      const tls = tlsConnect({ socket: tcp, ...clientTlsOptions(Buffer.from(handle.offer.id).toString('hex'), handle.offer.secret) })
      tls.on('error', () => {})
      opened.push(tcp)
      const target = await handle.connection
      opened.push(target)
      const got = received(target)
      let ended = false
      target.onEnd(() => { ended = true })
      const closed = new Promise<Error | undefined>(resolve => target.onClose(resolve))
      const records = Buffer.concat([encodeRecord([Buffer.from('one')], MAX), encodeRecord([Buffer.from('two')], MAX)])
      const sent = how === 'FIN inside a record' ? records.subarray(0, records.length - 1) : records
      await new Promise<void>(resolve => tls.write(sent, () => { resolve() }))
      if (how === 'close_notify without the end record') tls.end()
      else tcp.end()
      const err = await closed
      assert.equal(ended, false, how)
      assert.match(String(err?.message), /cut short/, how)
      assert.deepEqual(got.map(b => b.toString()), how === 'FIN inside a record' ? ['one'] : ['one', 'two'], how)
    }
  })

  it('connections that trickle a byte at a time are closed at the deadline from accept; then an offer works', async () => {
    const trickled = await createBulkListener({ host: '127.0.0.1', helloTimeoutMs: 400 })
    try {
      // each starts the largest TLS handshake record there is, then sends one byte every
      // 100 ms: it never fails a check, and each byte would reset an idle timeout
      const tricklers = Array.from({ length: BULK_MAX_UNPROVEN }, () => {
        const prefix = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00])
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

  it('an offer withdrawn before it was taken cannot be taken; a malformed offer is refused before any connection', async () => {
    const handle = listener.offer()
    handle.cancel()
    await assert.rejects(handle.connection, /withdrawn/)
    await assert.rejects(connectBulk('127.0.0.1', handle.offer, AbortSignal.timeout(5000)))
    await assert.rejects(connectBulk('127.0.0.1', { ...handle.offer, secret: new Uint8Array(3) }, AbortSignal.timeout(5000)), /malformed/)
  })
})
