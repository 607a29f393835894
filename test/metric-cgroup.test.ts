import assert from 'node:assert/strict'
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createCgroupReader } from '../src/metric/cgroup.js'
import { cgroupShare } from '../src/metric/formula.js'
import { tmpDir, cleanup, until } from './helpers/node.js'

/** A fake /proc and /sys/fs/cgroup: `runnable` processes in state R, `sleeping` in S. */
async function fixture (version: 1 | 2, quota: string, runnable: number, sleeping: number, jobs: { nested: number, outside: number } = { nested: 0, outside: 0 }): Promise<{ procRoot: string, cgroupRoot: string }> {
  const dir = await tmpDir('kappa-cg-')
  const procRoot = join(dir, 'proc')
  const cgroupRoot = join(dir, 'cgroup')
  await mkdir(join(procRoot, 'self'), { recursive: true })
  const pids: number[] = []
  for (let i = 0; i < runnable + sleeping; i++) {
    const pid = 1000 + i
    pids.push(pid)
    await mkdir(join(procRoot, String(pid)), { recursive: true })
    await writeFile(join(procRoot, String(pid), 'stat'), `${pid} (busy (loop)) ${i < runnable ? 'R' : 'S'} 1 1 1 0 -1\n`)
  }
  // busy processes in a job cgroup below the node's (as a daemon makes them), and in a sibling of the node's
  const busyIn = async (cg: string, count: number, first: number): Promise<void> => {
    const ids = Array.from({ length: count }, (_, i) => first + i)
    for (const pid of ids) {
      await mkdir(join(procRoot, String(pid)), { recursive: true })
      await writeFile(join(procRoot, String(pid), 'stat'), `${pid} (cc1) R 1 1 1 0 -1\n`)
    }
    await mkdir(cg, { recursive: true })
    await writeFile(join(cg, 'cgroup.procs'), ids.map(p => `${p}\n`).join(''))
  }
  const nodeDir = version === 2 ? join(cgroupRoot, 'kappa/node-a') : join(cgroupRoot, 'cpu/kappa/a')
  if (jobs.nested > 0) await busyIn(join(nodeDir, 'kappa-jobs-x/job-1'), jobs.nested, 2000)
  if (jobs.outside > 0) await busyIn(join(nodeDir, '../other'), jobs.outside, 3000)
  if (version === 2) {
    await writeFile(join(procRoot, 'self/cgroup'), '0::/kappa/node-a\n')
    const cg = join(cgroupRoot, 'kappa/node-a')
    await mkdir(cg, { recursive: true })
    await writeFile(join(cgroupRoot, 'cgroup.controllers'), 'cpu memory\n')
    await writeFile(join(cg, 'cpu.max'), `${quota} 100000\n`)
    await writeFile(join(cg, 'cpu.stat'), 'usage_usec 123456\nuser_usec 1\n')
    await writeFile(join(cg, 'cgroup.procs'), pids.join('\n') + '\n')
  } else {
    await writeFile(join(procRoot, 'self/cgroup'), '3:cpuacct:/kappa/a\n2:cpu:/kappa/a\n1:memory:/\n')
    const cpu = join(cgroupRoot, 'cpu/kappa/a')
    await mkdir(cpu, { recursive: true })
    await writeFile(join(cgroupRoot, 'cpu/cpu.cfs_quota_us'), '-1\n')
    await writeFile(join(cgroupRoot, 'cpu/cpu.cfs_period_us'), '100000\n')
    await writeFile(join(cpu, 'cpu.cfs_quota_us'), `${quota}\n`)
    await writeFile(join(cpu, 'cpu.cfs_period_us'), '100000\n')
    await writeFile(join(cpu, 'cgroup.procs'), pids.join('\n') + '\n')
    await mkdir(join(cgroupRoot, 'cpuacct/kappa/a'), { recursive: true })
    await writeFile(join(cgroupRoot, 'cpuacct/cpuacct.usage'), '1\n')
    await writeFile(join(cgroupRoot, 'cpuacct/kappa/a/cpuacct.usage'), '5000000\n')
  }
  return { procRoot, cgroupRoot }
}

describe('metric under a cgroup CPU quota', function () {
  afterEach(cleanup)

  it('the share formula: quota 1 with 4 busy processes → 0.2; quota 0.25 idle → 0.25; no more than one core', () => {
    assert.equal(cgroupShare(1, 1, 4), 0.2)
    assert.equal(cgroupShare(0.25, 0, 0), 0.25)
    assert.equal(cgroupShare(0.5, 1, 1), 0.25)
    assert.equal(cgroupShare(4, 0, 0), 1)
  })

  it('reads a cgroup v2 quota, usage and runnable processes', async () => {
    const reader = createCgroupReader(await fixture(2, '25000', 3, 2))
    const r = reader.read()
    assert.deepEqual(r, { version: 2, path: '/kappa/node-a', quotaCores: 0.25, usageUsec: 123456, runnable: 3 })
  })

  it('reads a cgroup v1 quota (cpu + cpuacct hierarchies)', async () => {
    const r = createCgroupReader(await fixture(1, '50000', 4, 0)).read()
    assert.deepEqual(r, { version: 1, path: '/kappa/a', quotaCores: 0.5, usageUsec: 5000, runnable: 4 })
  })

  it('counts the runnable processes of job cgroups below the node\'s, not those of a sibling', async () => {
    // a target's jobs run in cgroups nested under its daemon's; counting only the daemon's own
    // cgroup.procs showed a node running 3 CPU-bound jobs as idle
    const v1 = createCgroupReader(await fixture(1, '50000', 1, 1, { nested: 3, outside: 2 })).read()
    assert.equal(v1?.runnable, 4)
    const v2 = createCgroupReader(await fixture(2, '50000', 0, 1, { nested: 2, outside: 5 })).read()
    assert.equal(v2?.runnable, 2)
  })

  it('between samples, runnable() counts again under the cgroup the last read() found, as processes start, sleep and go', async () => {
    for (const version of [1, 2] as const) {
      const fx = await fixture(version, '50000', 1, 1, { nested: 3, outside: 2 })
      const reader = createCgroupReader(fx)
      // before any read(): a whole reading
      assert.equal(reader.runnable(), 4, `v${version}`)
      const job = version === 2 ? join(fx.cgroupRoot, 'kappa/node-a/kappa-jobs-x/job-1') : join(fx.cgroupRoot, 'cpu/kappa/a/kappa-jobs-x/job-1')
      // two job processes sleep, one ends (its /proc entry gone), a new job cgroup gets a busy one
      for (const pid of [2000, 2001]) await writeFile(join(fx.procRoot, `${pid}/stat`), `${pid} (cc1) S 1 1 1 0 -1\n`)
      await writeFile(join(job, 'cgroup.procs'), '2000\n2001\n2002\n9999\n')
      await mkdir(join(job, '../job-2'))
      await mkdir(join(fx.procRoot, '2500'))
      await writeFile(join(fx.procRoot, '2500/stat'), '2500 (a) R (b)) R 1 1 1 0 -1\n')
      await writeFile(join(job, '../job-2/cgroup.procs'), '2500\n')
      assert.equal(reader.runnable(), 3, `v${version}`)
      assert.equal(reader.read()?.runnable, 3, `v${version}`)
    }
  })

  it('a daemon in a child of the cgroup that sets the quota reads that cgroup\'s usage and runnable processes', async () => {
    // the test cluster (as systemd) puts the daemon and its owner's jobs in sibling cgroups under the node's quota
    const v1 = await fixture(1, '50000', 0, 0, { nested: 0, outside: 0 })
    await writeFile(join(v1.procRoot, 'self/cgroup'), '3:cpuacct:/kappa/a/daemon\n2:cpu:/kappa/a/daemon\n1:memory:/\n')
    for (const part of ['cpu/kappa/a/daemon', 'cpuacct/kappa/a/daemon']) await mkdir(join(v1.cgroupRoot, part), { recursive: true })
    await writeFile(join(v1.cgroupRoot, 'cpuacct/kappa/a/daemon/cpuacct.usage'), '1000\n')
    await writeFile(join(v1.cgroupRoot, 'cpu/kappa/a/daemon/cgroup.procs'), '')
    await mkdir(join(v1.procRoot, '4000'))
    await writeFile(join(v1.procRoot, '4000/stat'), '4000 (make) R 1 1 1 0 -1\n')
    await mkdir(join(v1.cgroupRoot, 'cpu/kappa/a/user'))
    await writeFile(join(v1.cgroupRoot, 'cpu/kappa/a/user/cgroup.procs'), '4000\n')
    assert.deepEqual(createCgroupReader(v1).read(), { version: 1, path: '/kappa/a/daemon', quotaCores: 0.5, usageUsec: 5000, runnable: 1 })

    const v2 = await fixture(2, '25000', 0, 0)
    await writeFile(join(v2.procRoot, 'self/cgroup'), '0::/kappa/node-a/daemon\n')
    await mkdir(join(v2.cgroupRoot, 'kappa/node-a/daemon'))
    await writeFile(join(v2.cgroupRoot, 'kappa/node-a/daemon/cpu.stat'), 'usage_usec 7\n')
    assert.deepEqual(createCgroupReader(v2).read(), { version: 2, path: '/kappa/node-a/daemon', quotaCores: 0.25, usageUsec: 123456, runnable: 0 })
  })

  it('no quota (max / -1), or no cgroup files: no cgroup reading', async () => {
    assert.equal(createCgroupReader(await fixture(2, 'max', 1, 0)).read(), undefined)
    assert.equal(createCgroupReader(await fixture(1, '-1', 1, 0)).read(), undefined)
    const dir = await tmpDir()
    assert.equal(createCgroupReader({ procRoot: dir, cgroupRoot: dir }).read(), undefined)
  })

  it('reads real processes\' states as they come and go, keeping a descriptor only for those still listed', async function () {
    if (process.platform !== 'linux') this.skip()
    const fx = await fixture(2, '50000', 0, 0)
    const kids: ChildProcess[] = []
    const start = (cmd: string): ChildProcess => { const k = spawn('sh', ['-c', cmd], { stdio: 'ignore' }); kids.push(k); return k }
    try {
      const busy = start('while :; do :; done')
      const sleeper = start('exec sleep 1000')
      // the fixture's /proc/<pid> are the real ones
      for (const k of [busy, sleeper]) await symlink(`/proc/${k.pid as number}`, join(fx.procRoot, String(k.pid)))
      await writeFile(join(fx.cgroupRoot, 'kappa/node-a/cgroup.procs'), `${busy.pid as number}\n${sleeper.pid as number}\n`)
      const reader = createCgroupReader(fx)
      // until both are past their start (the loop running, sleep sleeping)
      await until('one runnable', async () => reader.runnable() === 1, 10_000)
      assert.equal(reader.runnable(), 1, 'a reading through kept descriptors')
      assert.deepEqual(await statFilesOpen(), [`/proc/${busy.pid as number}/stat`, `/proc/${sleeper.pid as number}/stat`].sort())
      // the busy one ends: its kept descriptor reads nothing (ESRCH), so it is not counted
      busy.kill('SIGKILL')
      await new Promise(resolve => busy.once('exit', resolve))
      assert.equal(reader.runnable(), 0)
      // unlisted: its descriptor is closed at the end of the reading
      await writeFile(join(fx.cgroupRoot, 'kappa/node-a/cgroup.procs'), `${sleeper.pid as number}\n`)
      assert.equal(reader.runnable(), 0)
      assert.deepEqual(await statFilesOpen(), [`/proc/${sleeper.pid as number}/stat`])
      await writeFile(join(fx.cgroupRoot, 'kappa/node-a/cgroup.procs'), '')
      assert.equal(reader.runnable(), 0)
      assert.deepEqual(await statFilesOpen(), [])
    } finally {
      for (const k of kids) k.kill('SIGKILL')
    }
  })
})

/** The /proc/<pid>/stat files this process holds open. */
async function statFilesOpen (): Promise<string[]> {
  const out: string[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (/^\/proc\/\d+\/stat$/.test(target)) out.push(target)
  }
  return out.sort()
}
