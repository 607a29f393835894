/**
 * CPU quotas per test-cluster node, with cgroup v1 (`cpu.cfs_quota_us`, and
 * `cpuacct` as its own hierarchy on many hosts) or v2 (`cpu.max`). A node's
 * processes are put in the same relative path in every hierarchy involved, so
 * code reading `/proc/self/cgroup` finds its quota and its usage.
 *
 * The quota is on the node's cgroup; its processes live in two children of
 * equal weight, `daemon` and `user`, as on a machine where kappa-node runs as
 * a systemd service (system.slice) and its owner's shell and builds run in a
 * session (user.slice). In one cgroup the daemon got 1/18 of the node's CPU
 * beside 17 of its owner's jobs, and the burst's remote jobs waited 8 s for it
 * (bench/makespan).
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync, type Dirent } from 'node:fs'
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UserError } from '../errors.js'
import { readMounts } from '../host/mounts.js'
import { debugLogger, logged } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('cluster:cgroup')

/** The CFS period used for every quota: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000

export type CgroupLayout =
  | { version: 1, cpu: string, cpuacct?: string }
  | { version: 2, root: string }

/**
 * Where the cpu controller lives. A v1 `cpu` hierarchy wins (a controller is
 * bound to one hierarchy at a time, so on hybrid hosts the v2 tree has no cpu);
 * otherwise a cgroup2 mount that offers `cpu`.
 */
export function detectCgroups (mountsFile = '/proc/self/mounts'): CgroupLayout | undefined {
  const all = readMounts(mountsFile)
  const v1cpu = all.find(m => m.type === 'cgroup' && m.options.includes('cpu'))
  if (v1cpu != null) {
    const v1acct = all.find(m => m.type === 'cgroup' && m.options.includes('cpuacct'))
    // combined `cpu,cpuacct` hierarchies need no second directory
    return { version: 1, cpu: v1cpu.point, cpuacct: v1acct != null && v1acct.point !== v1cpu.point ? v1acct.point : undefined }
  }
  for (const m of all.filter(m => m.type === 'cgroup2')) {
    try {
      if (readFileSync(join(m.point, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) return { version: 2, root: m.point }
    } catch (err) { debug('reading cgroup.controllers: %s', errorMessage(err)) }
  }
  return undefined
}

export interface NodeCgroup {
  /** path below each hierarchy's root, e.g. `kappa-4242/a` */
  readonly path: string
  readonly cpus: number
  /** its directory in the cpu hierarchy (quota, cpu.stat) */
  readonly dir: string
  /** the cgroup.procs files a process is written into to join the node's `user` part (one per hierarchy) */
  readonly procsFiles: string[]
  /** the same for the node's `daemon` part */
  readonly daemonProcsFiles: string[]
  /** what a human reads to check the quota (`cpu.cfs_quota_us` or `cpu.max`) */
  readonly quotaFile: string
  pids (): Promise<number[]>
}

export interface RunCgroups {
  readonly layout: CgroupLayout
  /** the run's directory below each hierarchy root, e.g. `kappa-4242` */
  readonly path: string
  /** every directory this run created, parents last */
  readonly dirs: string[]
  node (name: string, cpus: number): Promise<NodeCgroup>
  /** SIGKILL whatever is left inside, then remove the directories; safe to repeat */
  remove (): Promise<void>
  removeSync (): void
}

function hierarchies (layout: CgroupLayout): string[] {
  if (layout.version === 2) return [layout.root]
  return layout.cpuacct != null ? [layout.cpu, layout.cpuacct] : [layout.cpu]
}

export function quotaText (layout: CgroupLayout, cpus: number, periodUs = CPU_PERIOD_US): string {
  const quota = Math.round(cpus * periodUs)
  return layout.version === 2 ? `${quota} ${periodUs}` : String(quota)
}

async function pidsIn (dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')
  return text.split('\n').filter(l => l !== '').map(Number)
}

function pidsInSync (dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(l => l !== '').map(Number)
  } catch {
    return []
  }
}

/** Cgroups below a node's own (a daemon's job cgroups), deepest first: they go before it. */
function nestedDirs (dir: string): string[] {
  let entries: Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.filter(e => e.isDirectory()).flatMap(e => { const d = join(dir, e.name); return [...nestedDirs(d), d] })
}

function killAll (pids: number[]): void {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch (err) { debug('killing a process: %s', errorMessage(err)) }
  }
}

function sleepSync (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * v2: children of the root get the cpu controller only if the root's
 * subtree_control lists it (systemd usually does this; a bare or container
 * root may not). Enabling it fails in a non-root cgroup that holds processes.
 */
async function delegateCpu (root: string): Promise<void> {
  const file = join(root, 'cgroup.subtree_control')
  const enabled = (await readFile(file, 'utf8').catch(() => '')).split(/\s+/)
  if (enabled.includes('cpu')) return
  try {
    await writeFile(file, '+cpu')
  } catch (err: any) {
    throw new UserError(`cannot enable the cpu controller in ${file} (${err.message as string}); enable it (echo +cpu > ${file}) or run where it is`)
  }
}

/**
 * The cgroups of one cluster run: `<hierarchy>/<path>/<node>` in each
 * hierarchy. On v2 the run's directory enables the cpu controller for its
 * children and holds no process itself (the "no internal processes" rule).
 */
export async function createRunCgroups (path: string, layout = detectCgroups(), periodUs = CPU_PERIOD_US): Promise<RunCgroups> {
  if (layout == null) throw new UserError('no cgroup cpu controller found (neither v1 cpu.cfs_quota_us nor v2 cpu.max): cannot give nodes CPU quotas')
  const dirs: string[] = []
  const roots = hierarchies(layout)
  if (layout.version === 2) await delegateCpu(layout.root)
  for (const root of roots) {
    const dir = join(root, path)
    try {
      await mkdir(dir)
    } catch (err: any) {
      throw new UserError(`cannot create cgroup ${dir}: ${err.message as string}`)
    }
    dirs.push(dir)
  }
  if (layout.version === 2) {
    try {
      await writeFile(join(layout.root, path, 'cgroup.subtree_control'), '+cpu')
    } catch (err: any) {
      await Promise.all(dirs.map(async d => { await rmdir(d).catch(logged(debug, 'removing a cgroup')) }))
      throw new UserError(`cannot enable the cpu controller in ${join(layout.root, path)} (${err.message as string}); is +cpu in ${layout.root}/cgroup.subtree_control?`)
    }
  }

  const leaves: string[] = []
  const remove = async (): Promise<void> => {
    // leaves first: a cgroup with children or processes cannot be removed
    for (const dir of [...leaves].reverse().flatMap(d => [...nestedDirs(d), d])) {
      for (let i = 0; i < 100; i++) {
        const pids = await pidsIn(dir)
        killAll(pids)
        try {
          await rmdir(dir)
          break
        } catch (err: any) {
          if (err.code === 'ENOENT') break
          if (err.code !== 'EBUSY' || i === 99) throw new Error(`cannot remove cgroup ${dir}: ${err.message as string}`)
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      }
    }
    leaves.length = 0
    for (const dir of dirs) await rmdir(dir).catch((err) => { if (err.code !== 'ENOENT') throw err })
  }

  return {
    layout,
    path,
    get dirs () { return [...leaves, ...dirs] },
    async node (name, cpus) {
      if (!(cpus > 0)) throw new UserError(`bad CPU quota ${cpus} for node '${name}': a positive number of CPUs`)
      const procsFiles: string[] = []
      const daemonProcsFiles: string[] = []
      for (const root of roots) {
        const dir = join(root, path, name)
        await mkdir(dir)
        leaves.push(dir)
      }
      const cpuDir = join(roots[0], path, name)
      let quotaFile: string
      if (layout.version === 2) {
        quotaFile = join(cpuDir, 'cpu.max')
        await writeFile(quotaFile, quotaText(layout, cpus, periodUs))
        // the two parts get a weight each only if the node hands them the controller
        await writeFile(join(cpuDir, 'cgroup.subtree_control'), '+cpu')
      } else {
        await writeFile(join(cpuDir, 'cpu.cfs_period_us'), String(periodUs))
        quotaFile = join(cpuDir, 'cpu.cfs_quota_us')
        await writeFile(quotaFile, quotaText(layout, cpus, periodUs))
      }
      for (const root of roots) {
        for (const [part, files] of [['user', procsFiles], ['daemon', daemonProcsFiles]] as const) {
          await mkdir(join(root, path, name, part))
          files.push(join(root, path, name, part, 'cgroup.procs'))
        }
      }
      return {
        path: `${path}/${name}`,
        cpus,
        dir: cpuDir,
        procsFiles,
        daemonProcsFiles,
        quotaFile,
        pids: async () => [...new Set((await Promise.all(roots.flatMap(r => ['user', 'daemon'].map(async part => await pidsIn(join(r, path, name, part)))))).flat())]
      }
    },
    remove,
    removeSync () {
      for (const dir of [...leaves].reverse().flatMap(d => [...nestedDirs(d), d])) {
        for (let i = 0; i < 100; i++) {
          killAll(pidsInSync(dir))
          try {
            rmdirSync(dir)
            break
          } catch (err: any) {
            if (err.code === 'ENOENT' || err.code !== 'EBUSY') break
            sleepSync(20)
          }
        }
      }
      leaves.length = 0
      for (const dir of dirs) {
        try { rmdirSync(dir) } catch (err) { debug('removing a cgroup: %s', errorMessage(err)) }
      }
    }
  }
}

/** Does this cgroup directory still exist in any hierarchy? (tests check teardown) */
export function cgroupExists (layout: CgroupLayout, path: string): boolean {
  return hierarchies(layout).some(root => existsSync(join(root, path)))
}

/** Write `pid` into every cgroup.procs of a node (for processes started without the enter script). */
export function joinCgroupSync (cgroup: NodeCgroup, pid: number): void {
  for (const file of cgroup.procsFiles) writeFileSync(file, String(pid))
}
