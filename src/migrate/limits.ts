/**
 * Per-job cgroups: a process limit, a memory limit (tmpfs pages count: they
 * are charged to the cgroup of the process that writes them) and a CPU
 * weight below the node's own work. cgroup v1 (a hierarchy per controller,
 * nested under this daemon's own cgroup in each) or v2 (one tree, under the
 * root: a cgroup holding processes cannot hand controllers to children).
 * Every node's jobs live under `kappa-jobs-<key>`, so a restarting daemon
 * finds and kills what its predecessor left, and two nodes on one machine
 * never touch each other's jobs.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { formatBytes } from '../units.js'
import { readMounts } from '../host/mounts.js'
import { serializer } from '../serialize.js'

const log = logger('kappa:migrate:limits')

export interface JobLimitSettings {
  memoryBytes: number
  pids: number
  /** relative CPU weight, 1–10000 on cgroup v2's scale (100 is a normal process) */
  cpuWeight: number
}

type Layout =
  | { version: 1, memory: string, pids: string, cpu?: string, freezer?: string }
  | { version: 2, root: string }

/** This process's cgroup path per v1 controller (and '' for v2), from /proc/self/cgroup. */
function ownPaths (file = '/proc/self/cgroup'): Map<string, string> {
  const out = new Map<string, string>()
  let text = ''
  try { text = readFileSync(file, 'utf8') } catch (err) { log('%s: %s', file, (err as Error).message) }
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line)
    if (m == null) continue
    for (const c of m[1].split(',')) out.set(c, m[2])
  }
  return out
}

/**
 * Where this node's job cgroups go, or why there is nowhere. A v1 memory and
 * pids hierarchy win (on hybrid hosts the controllers are bound there, not in
 * the unified tree); else a cgroup2 mount offering memory and pids.
 */
function detectLayout (key: string): { layout: Layout, bases: string[] } | { reason: string } {
  const all = readMounts()
  const own = ownPaths()
  const v1 = (controller: string): string | undefined => {
    const m = all.find(m => m.type === 'cgroup' && m.options.includes(controller))
    if (m == null) return undefined
    return join(m.point, own.get(controller) ?? '/', `kappa-jobs-${key}`)
  }
  const memory = v1('memory')
  const pids = v1('pids')
  if (memory != null && pids != null) {
    const cpu = v1('cpu')
    const freezer = v1('freezer')
    const layout: Layout = { version: 1, memory, pids, cpu, freezer }
    return { layout, bases: [...new Set([memory, pids, cpu, freezer].filter((d): d is string => d != null))] }
  }
  for (const m of all.filter(m => m.type === 'cgroup2')) {
    let controllers: string[] = []
    try { controllers = readFileSync(join(m.point, 'cgroup.controllers'), 'utf8').trim().split(/\s+/) } catch { continue }
    if (controllers.includes('memory') && controllers.includes('pids')) {
      const root = join(m.point, `kappa-jobs-${key}`)
      return { layout: { version: 2, root }, bases: [root] }
    }
  }
  return { reason: 'no cgroup memory and pids controllers are mounted (neither cgroup v1 nor v2)' }
}

/*
 * cgroup files are read and written synchronously: each call is a few µs in
 * the kernel, while an async one's trip through libuv's thread pool costs
 * ~70 µs of CPU on a small VM, and a job makes, limits, reads and removes
 * its cgroups in about 50 calls (docs/builds.md).
 */

/** A cgroup file's text; '' where it is gone (a removed cgroup, a controller not mounted). */
function readOrEmpty (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    log('reading %s: %s', file, (err as Error).message)
    return ''
  }
}

function pidsIn (dir: string): number[] {
  return readOrEmpty(join(dir, 'cgroup.procs')).split('\n').filter(l => l !== '').map(Number)
}

/** A counter line (`oom_kill 3`, `max 12`) of a cgroup's key-value file. */
function counter (file: string, name: string): number {
  const text = readOrEmpty(file)
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)
  return m != null ? Number(m[1]) : 0
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** SIGKILL everything in `dirs` until they are empty, then remove them (leaf first). */
async function killAndRemove (dirs: string[], v2: boolean): Promise<void> {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue
    // cgroup.kill (Linux 5.14) kills the whole tree at once, fork loops included
    if (v2 && existsSync(join(dir, 'cgroup.kill'))) {
      try { writeFileSync(join(dir, 'cgroup.kill'), '1') } catch (err) { log('cgroup.kill %s: %s', dir, (err as Error).message) }
    }
    for (let i = 0; ; i++) {
      for (const pid of pidsIn(dir)) {
        try { process.kill(pid, 'SIGKILL') } catch (err) { log('kill %d: %s', pid, (err as Error).message) }
      }
      try {
        rmdirSync(dir)
        break
      } catch (err: any) {
        if (err.code === 'ENOENT') break
        if (i >= 200) { log('cannot remove cgroup %s: %s', dir, err.message); break }
        await sleep(i < 10 ? 10 : 50)
      }
    }
  }
}

/** Which limit stopped a job: said in the job log and on the origin's stderr. */
export interface LimitVerdict { limit: 'memory' | 'pids', message: string }

export interface JobCgroup {
  /** cgroup.procs files the launcher writes its pid into before it execs the job */
  readonly procsFiles: string[]
  /** the limit the job ran into, if one did */
  verdict (): Promise<LimitVerdict | undefined>
  /** SIGKILL everything in it and remove it */
  remove (): Promise<void>
}

/** The cgroups of one node's jobs. */
export class JobCgroups {
  /** making and removing this node's directories take turns (a job's mkdir never meets another's rmdir) */
  private readonly turns = serializer(log)
  private constructor (private readonly layout: Layout, private readonly bases: string[], readonly settings: JobLimitSettings) {}

  /**
   * Makes this node's cgroup directories and checks that every limit can be
   * set (in a trial job cgroup, removed again). Throws with the reason.
   */
  static async open (key: string, settings: JobLimitSettings): Promise<JobCgroups> {
    if (process.getuid?.() !== 0) throw new Error('the daemon is not root: it cannot make cgroups')
    const found = detectLayout(key)
    if ('reason' in found) throw new Error(found.reason)
    const { layout, bases } = found
    if (layout.version === 2) enableControllers(join(layout.root, '..'))
    const cgroups = new JobCgroups(layout, bases, settings)
    // the trial's remove() takes this node's directories too: made again by the next job, so a
    // daemon killed while idle leaves no empty cgroup behind
    const trial = await cgroups.create('trial')
    await trial.remove()
    return cgroups
  }

  /** Kills every job of the node `key` and removes its cgroups, without opening them (a test's cleanup after kill -9). */
  static async removeAll (key: string, settings: JobLimitSettings = { memoryBytes: 0, pids: 0, cpuWeight: 0 }): Promise<void> {
    const found = detectLayout(key)
    if ('reason' in found) return
    await new JobCgroups(found.layout, found.bases, settings).close()
  }

  /** Kills and removes the job cgroups a previous daemon of this node left. */
  async sweep (): Promise<number> {
    let n = 0
    for (const base of this.bases) {
      const names = await readdir(base, { withFileTypes: true }).catch(() => [])
      const dirs = names.filter(d => d.isDirectory() && d.name.startsWith('job-')).map(d => join(base, d.name))
      for (const dir of dirs) n += pidsIn(dir).length
      await killAndRemove(dirs, this.layout.version === 2)
    }
    return n
  }

  async create (id: string): Promise<JobCgroup> {
    const name = `job-${id}`
    const l = this.layout
    const dirs = this.bases.map(b => join(b, name))
    const { memoryBytes, pids, cpuWeight } = this.settings
    try {
      await this.inTurn(async () => {
        for (const b of this.bases) mkdirSync(b, { recursive: true })
        if (l.version === 2) enableControllers(l.root)
        for (const d of dirs) mkdirSync(d)
      })
      // a limit a kernel may lack: said in the debug log, the job still runs
      const optional = (file: string, value: string): void => {
        try { writeFileSync(file, value) } catch (err) { log('%s: %s', file, (err as Error).message) }
      }
      if (l.version === 1) {
        const mem = join(l.memory, name)
        writeFileSync(join(mem, 'memory.limit_in_bytes'), String(memoryBytes))
        // where swap is accounted, it counts too (a job must not page its way past the limit)
        if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) optional(join(mem, 'memory.memsw.limit_in_bytes'), String(memoryBytes))
        writeFileSync(join(l.pids, name, 'pids.max'), String(pids))
        // v1's cpu.shares: 1024 is a normal process
        if (l.cpu != null) writeFileSync(join(l.cpu, name, 'cpu.shares'), String(Math.max(2, Math.round(cpuWeight * 1024 / 100))))
      } else {
        const dir = join(l.root, name)
        writeFileSync(join(dir, 'memory.max'), String(memoryBytes))
        if (existsSync(join(dir, 'memory.swap.max'))) optional(join(dir, 'memory.swap.max'), '0')
        writeFileSync(join(dir, 'pids.max'), String(pids))
        if (existsSync(join(dir, 'cpu.weight'))) writeFileSync(join(dir, 'cpu.weight'), String(cpuWeight))
      }
    } catch (err) {
      await killAndRemove(dirs, l.version === 2)
      throw err
    }
    const memoryDir = l.version === 1 ? join(l.memory, name) : join(l.root, name)
    const pidsDir = l.version === 1 ? join(l.pids, name) : join(l.root, name)
    return {
      procsFiles: dirs.map(d => join(d, 'cgroup.procs')),
      verdict: async () => {
        const ooms = l.version === 1 ? counter(join(memoryDir, 'memory.oom_control'), 'oom_kill') : counter(join(memoryDir, 'memory.events'), 'oom_kill')
        if (ooms > 0) return { limit: 'memory', message: `memory limit ${formatBytes(memoryBytes)} of this node` }
        if (counter(join(pidsDir, 'pids.events'), 'max') > 0) return { limit: 'pids', message: `process limit ${pids} of this node` }
        return undefined
      },
      remove: async () => {
        await killAndRemove(dirs, l.version === 2)
        await this.inTurn(async () => { await this.removeBases() })
      }
    }
  }

  private async inTurn (fn: () => Promise<void>): Promise<void> {
    await this.turns(fn)
  }

  /** This node's cgroup directories, where no job has one (a concurrent job's keeps them). */
  private async removeBases (): Promise<void> {
    for (const b of this.bases) {
      try {
        rmdirSync(b)
      } catch (err: any) {
        if (!['ENOENT', 'EBUSY', 'ENOTEMPTY'].includes(err.code)) log('rmdir %s: %s', b, err.message)
      }
    }
  }

  /** Kills every job of this node and removes its cgroups (daemon stopping). */
  async close (): Promise<void> {
    await this.sweep()
    await this.removeBases()
  }
}

/** v2: let `dir`'s children have the memory, pids and cpu controllers. */
function enableControllers (dir: string): void {
  const file = join(dir, 'cgroup.subtree_control')
  const enabled = readOrEmpty(file).split(/\s+/)
  const available = readOrEmpty(join(dir, 'cgroup.controllers')).split(/\s+/)
  for (const c of ['memory', 'pids', 'cpu']) {
    if (enabled.includes(c) || !available.includes(c)) continue
    try {
      writeFileSync(file, `+${c}`)
    } catch (err) {
      if (c !== 'cpu') throw new Error(`cannot enable the ${c} controller in ${file}: ${(err as Error).message}`)
    }
  }
}

/** A shell line that puts itself into `files`' cgroups and execs the rest of its arguments (no race with the job's first fork). */
export function enterCgroupArgs (procsFiles: string[]): string[] {
  const quote = (s: string): string => `'${s.replace(/'/g, '\'\\\'\'')}'`
  const joins = procsFiles.map(f => `echo $$ > ${quote(f)}`).join(' && ')
  return ['/bin/sh', '-c', `${joins} && exec "$@"`, 'kappa-job']
}
