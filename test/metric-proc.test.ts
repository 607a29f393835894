import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  ProcError, cpuTimes, createProcReader, parseAllowedCpus, parseCpuList, parseCpuModel, parseMeminfo, parseStat
} from '../src/metric/proc.js'
import { FIXTURES } from './metric-helpers.js'

describe('/proc parsing', () => {
  it('parses /proc/stat: per-CPU idle (idle + iowait) and busy jiffies, procs_running', () => {
    const r = parseStat([
      'cpu  10 1 2 100 5 1 1 1 0 0',
      'cpu0 10 1 2 100 5 1 1 1 3 0',
      'procs_running 3',
      ''
    ].join('\n'))
    assert.deepEqual(r.cpus.get(0), { idle: 105, busy: 16 }, 'guest (3) is already inside user')
    assert.equal(r.procsRunning, 3)
    assert.equal(r.cpus.size, 1, 'the aggregate cpu line is not a CPU')
  })

  it('parses the fixtures and the real /proc', () => {
    const idle = createProcReader(join(FIXTURES, 'idle'))
    assert.equal(idle.stat().cpus.size, 2)
    assert.deepEqual(idle.meminfo(), { totalKiB: 24684084, availableKiB: 24353120, estimated: false })
    assert.equal(idle.cpuModel(), 'Fixture CPU @ 3.0GHz')
    assert.equal(idle.bootId(), '0f6c3c3e-8a1b-4b7e-9d2a-1c2d3e4f5a6b')
    assert.equal(idle.allowedCpus(), undefined, 'fixtures have no self/status: every CPU counts')

    const real = createProcReader('/proc')
    const stat = real.stat()
    assert.ok(stat.cpus.size >= 1)
    assert.ok(stat.procsRunning >= 1, 'the reader itself is running')
    assert.ok(real.meminfo().totalKiB > 0)
    assert.ok(real.bootId().length >= 32)
    const allowed = real.allowedCpus()
    assert.ok(allowed !== undefined && allowed.length >= 1)
  })

  it('sums only the CPUs asked for', () => {
    const r = createProcReader(join(FIXTURES, 'two-cores-one-busy')).stat()
    assert.equal(cpuTimes(r).cores, 2)
    assert.equal(cpuTimes(r, [1]).cores, 1)
    assert.deepEqual(cpuTimes(r, [1]).times, r.cpus.get(1))
    assert.equal(cpuTimes(r, [7]).cores, 0)
  })

  for (const [name, stat, meminfo] of [
    ['garbage', /garbage\/stat: no per-CPU lines/, /garbage\/meminfo: no MemTotal line/],
    ['truncated', /truncated\/stat: malformed line 'cpu1 2677 0'/, /truncated\/meminfo: neither MemAvailable nor MemFree/],
    ['missing', /missing\/stat: missing$/, /missing\/meminfo: missing$/]
  ] as const) {
    it(`a ${name} file is a ProcError naming the file and the problem`, () => {
      const proc = createProcReader(join(FIXTURES, name))
      assert.throws(() => proc.stat(), (err: unknown) => err instanceof ProcError && stat.test(err.message) && !err.message.includes('\n'))
      assert.throws(() => proc.meminfo(), (err: unknown) => err instanceof ProcError && meminfo.test(err.message))
    })
  }

  it('rejects stat files without procs_running, empty files and bad numbers', () => {
    assert.throws(() => parseStat('cpu0 1 2 3 4\n'), /no procs_running line/)
    assert.throws(() => parseStat(''), /empty file/)
    assert.throws(() => parseStat('cpu0 1 2 x 4\nprocs_running 1\n'), /malformed line 'cpu0 1 2 x 4'/)
    assert.throws(() => parseStat('cpu0 1 2 3 4\nprocs_running -1\n'), /malformed line/)
  })

  it('meminfo: MemAvailable, or an estimate on old kernels; never more than MemTotal', () => {
    assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n'), { totalKiB: 1000, availableKiB: 350, estimated: true })
    assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemAvailable: 2000 kB\n'), { totalKiB: 1000, availableKiB: 1000, estimated: false })
    assert.throws(() => parseMeminfo('MemTotal: 0 kB\nMemAvailable: 0 kB\n'), /MemTotal is 0/)
  })

  it('CPU model and CPU lists', () => {
    assert.equal(parseCpuModel('processor : 0\nmodel name : AMD EPYC\n'), 'AMD EPYC')
    assert.equal(parseCpuModel('processor : 0\nCPU implementer : 0x41\nCPU part : 0xd0c\n'), 'implementer 0x41 part 0xd0c')
    assert.equal(parseCpuModel(''), 'unknown')
    assert.deepEqual(parseCpuList('0-2,5'), [0, 1, 2, 5])
    assert.deepEqual(parseAllowedCpus('Name:\tnode\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n'), [0])
    assert.equal(parseAllowedCpus('Name:\tnode\n'), undefined)
  })
})
