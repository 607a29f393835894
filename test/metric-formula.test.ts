import assert from 'node:assert/strict'
import {
  cpuFractions, cpuShare, dynamicMetric, median, memFactor, staticScore, sysmetric
} from '../src/metric/formula.js'
import { createPendingWork } from '../src/metric/pending.js'
import { cpuList } from '../src/metric/format.js'

describe('metric formulas (SPEC §4)', () => {
  it('median takes the middle value, or the mean of the middle two', () => {
    assert.equal(median([5, 1, 1000, 3, 4]), 4)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.throws(() => median([]), RangeError)
  })

  it('S = 100 · mean of the kernel ratios', () => {
    assert.equal(staticScore([1, 1, 1, 1]), 100)
    assert.equal(staticScore([2, 1, 0.5, 0.5]), 100)
    assert.equal(staticScore([2, 2, 2, 2]), 200)
  })

  it('cpu fractions come from jiffy deltas and are undefined when nothing elapsed', () => {
    assert.deepEqual(cpuFractions({ idle: 100, busy: 50 }, { idle: 400, busy: 150 }), { fIdle: 0.75, fBusy: 0.25, idle: 300, busy: 100 })
    assert.equal(cpuFractions({ idle: 100, busy: 50 }, { idle: 100, busy: 50 }), undefined)
    assert.equal(cpuFractions({ idle: 100, busy: 50 }, { idle: 90, busy: 60 }), undefined, 'counters that go back are no data')
  })

  it('share: idle → 1; one core with 4 CPU-bound processes → 0.2; two cores with one busy process → 1', () => {
    assert.equal(cpuShare(1, 1, 0), 1)
    assert.equal(cpuShare(8, 1, 0), 1, 'capped at one core')
    assert.ok(Math.abs(cpuShare(1, 0, 4) - 0.2) < 1e-12)
    assert.equal(cpuShare(2, 0.5, 1), 1)
    assert.ok(Math.abs(cpuShare(2, 0, 2) - 2 / 3) < 1e-12, 'two busy cores shared by three processes')
    assert.equal(cpuShare(0, 1, 0), 1, 'C is at least one')
  })

  it('memory factor: 5 % available with threshold 10 % → 0.5; only counts when short', () => {
    assert.equal(memFactor(5, 100, 0.10), 0.5)
    assert.equal(memFactor(50, 100, 0.10), 1)
    assert.equal(memFactor(0, 100, 0.10), 0)
    assert.equal(memFactor(10, 100, 0.10), 1)
  })

  it('sysmetric: idle reference machine 155, one core with 4 CPU-bound processes 43 (paper Table II: 140–150 vs 35–45)', () => {
    const idle = sysmetric(100, dynamicMetric(cpuShare(1, 1, 0), 1))
    const loaded = sysmetric(100, dynamicMetric(cpuShare(1, 0, 4), 1))
    assert.ok(Math.abs(idle - 155) < 1e-9, String(idle))
    assert.ok(Math.abs(loaded - 43) < 1e-9, String(loaded))
  })

  it('cpuList compresses ranges', () => {
    assert.equal(cpuList([3, 0, 1, 2, 6]), '0-3,6')
    assert.equal(cpuList([0]), '0')
  })
})

describe('pending work', () => {
  it('counts tickets until consumed or expired', () => {
    let t = 1000
    let changes = 0
    const pending = createPendingWork({ now: () => t, onChange: () => { changes++ } })
    pending.add('a', 2000)
    pending.add('b', 3000)
    assert.equal(pending.count(), 2)
    assert.equal(pending.count(2500), 1, 'a has expired by then')
    pending.consume('a')
    assert.equal(pending.count(), 1)
    pending.consume('nope')
    assert.equal(pending.count(), 1)
    t = 3000
    assert.equal(pending.count(), 0, 'b expired')
    assert.equal(pending.nextExpiry(), undefined)
    pending.add('late', 2999)
    assert.equal(pending.count(), 0, 'an already expired ticket is not counted')
    assert.equal(changes, 3, 'add a, add b, consume a')
    assert.throws(() => { pending.add('x', Number.NaN) }, RangeError)
  })
})
