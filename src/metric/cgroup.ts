/**
 * The CPU quota of the cgroup this process runs in (Docker `cpus:`, systemd
 * `CPUQuota=`, the namespace test cluster). /proc/stat is machine-wide: a
 * node limited to a quarter of a CPU on an idle host would look idle there.
 * What a new process would get is bounded by the quota, shared with the
 * runnable processes of the same cgroup. cgroup v2 (`cpu.max`,
 * `cpu.stat usage_usec`) and v1 (`cpu.cfs_quota_us`, `cpuacct.usage`).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { join, relative } from 'node:path'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('metric:cgroup')

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup'

export interface CgroupCpuReading {
  version: 1 | 2
  /** the cgroup's path in its hierarchy */
  path: string
  /** the tightest CPU quota of the cgroup and its ancestors, in cores */
  quotaCores: number
  /** CPU time the cgroup that sets the quota has used, its children's included, µs (undefined if the accounting file is missing) */
  usageUsec?: number
  /**
   * runnable processes in the cgroup that sets the quota and every cgroup
   * below it (they all share the quota: a daemon's job cgroups are nested
   * there on v1), this one excluded
   */
  runnable: number
}

export interface CgroupReader {
  /** undefined when this process has no CPU quota (the usual desktop case) */
  read (): CgroupCpuReading | undefined
  /**
   * `read().runnable` alone, counted under the cgroup the last read() found
   * setting the quota (readings between samples need no more: each costs a
   * file per process, several times a second on a busy node)
   */
  runnable (): number | undefined
}

function readText (file: string): string | undefined {
  try { return readFileSync(file, 'utf8') } catch { return undefined }
}

/** A cgroup's child cgroups; none when it is gone (a job cgroup removed meanwhile). */
function subdirs (dir: string): string[] {
  try { return readdirSync(dir, { withFileTypes: true }).filter(e => e.isDirectory()).map(e => e.name) } catch { return [] }
}

/** `id:controllers:path` lines of /proc/self/cgroup. */
function parseSelfCgroup (text: string): Array<{ controllers: string[], path: string }> {
  return text.split('\n').filter(l => l.includes(':')).map(l => {
    const first = l.indexOf(':')
    const second = l.indexOf(':', first + 1)
    return { controllers: l.slice(first + 1, second).split(',').filter(c => c !== ''), path: l.slice(second + 1).trim() }
  })
}

/** The cgroup directory and its ancestors up to the mount root. */
function lineage (mount: string, path: string): string[] {
  const parts = path.split('/').filter(p => p !== '')
  const dirs: string[] = []
  for (let i = parts.length; i >= 0; i--) dirs.push(join(mount, ...parts.slice(0, i)))
  return dirs
}

/** Cgroups below which the runnable count stops looking (a daemon makes one per job; a tree this size is not ours). */
const MAX_CGROUP_DIRS = 512

/** One buffer for every /proc/<pid>/stat read: a process's state is in its first few hundred bytes. */
const statBuffer = Buffer.alloc(1024)

/** Descriptors kept open at most (a cgroup tree with more processes reads the rest the plain way). */
const MAX_KEPT_STAT_FILES = 1024

/**
 * The state letters of /proc/<pid>/stat, read through descriptors kept open
 * from one reading to the next: a pread each (~4.5 µs here) instead of an
 * open, a read and a close (~15 µs). A build's origin has ~40 processes in
 * its cgroup and reads them up to ten times a second. A descriptor belongs
 * to the process it was opened for: once that process is gone its reads fail
 * (ESRCH), even when a new process got the same pid, so a failed read opens
 * the file again once. Descriptors of processes no reading listed are closed
 * at the end of each reading.
 */
class ProcessStates {
  /** pid → its descriptor */
  private readonly kept = new Map<number, number>()
  private listed = new Set<number>()

  constructor (private readonly procRoot: string) {}

  /** The state letter; undefined when the process is gone. */
  state (pid: number): string | undefined {
    this.listed.add(pid)
    const fd = this.kept.get(pid)
    if (fd != null) {
      const state = readState(fd)
      if (state != null) return state
      this.forget(pid, fd)
    }
    let fresh: number
    try { fresh = openSync(`${this.procRoot}/${pid}/stat`, 'r') } catch { return undefined }
    const state = readState(fresh)
    if (state != null && this.kept.size < MAX_KEPT_STAT_FILES) this.kept.set(pid, fresh)
    else closeSync(fresh)
    return state
  }

  /** A reading is over: close what it did not list. */
  endReading (): void {
    for (const [pid, fd] of this.kept) if (!this.listed.has(pid)) this.forget(pid, fd)
    this.listed = new Set()
  }

  private forget (pid: number, fd: number): void {
    this.kept.delete(pid)
    try { closeSync(fd) } catch (err) { debug('closing /proc/%d/stat: %s', pid, errorMessage(err)) }
  }
}

function readState (fd: number): string | undefined {
  try {
    const n = readSync(fd, statBuffer, 0, statBuffer.length, 0)
    // the state follows the parenthesised command name, which may contain spaces and parentheses
    const close = statBuffer.lastIndexOf(0x29, n - 1)
    return close < 0 || close + 2 >= n ? undefined : String.fromCharCode(statBuffer[close + 2])
  } catch {
    return undefined
  }
}

function runnableIn (procsFile: string | undefined, states: ProcessStates): number {
  if (procsFile == null) return 0
  let n = 0
  for (const line of procsFile.split('\n')) {
    const pid = Number(line.trim())
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue
    if (states.state(pid) === 'R') n++
  }
  return n
}

/**
 * Runnable processes in `dir` and its descendants: the jobs a daemon runs for
 * others sit in job cgroups below its own (src/migrate/limits.ts), under the
 * same quota, and a count of the daemon's own cgroup alone missed them all —
 * a target running three CPU-bound jobs advertised itself as idle.
 */
function runnableInTree (dir: string, states: ProcessStates): number {
  let n = 0
  const queue = [dir]
  for (let i = 0; i < queue.length && i < MAX_CGROUP_DIRS; i++) {
    n += runnableIn(readText(join(queue[i], 'cgroup.procs')), states)
    for (const name of subdirs(queue[i])) queue.push(join(queue[i], name))
  }
  states.endReading()
  return n
}

export function createCgroupReader (opts: { procRoot?: string, cgroupRoot?: string } = {}): CgroupReader {
  const procRoot = opts.procRoot ?? '/proc'
  const root = opts.cgroupRoot ?? DEFAULT_CGROUP_ROOT
  /** the cgroup the last read() found setting the quota */
  let counted: string | undefined
  const states = new ProcessStates(procRoot)
  const reader: CgroupReader = {
    runnable () {
      return counted == null ? reader.read()?.runnable : runnableInTree(counted, states)
    },
    read () {
      counted = undefined
      const self = readText(join(procRoot, 'self/cgroup'))
      if (self == null) return undefined
      const lines = parseSelfCgroup(self)
      const v1cpu = lines.find(l => l.controllers.includes('cpu'))
      if (v1cpu != null) {
        const mount = [join(root, 'cpu'), join(root, 'cpu,cpuacct'), join(root, 'cpuacct,cpu')].find(d => existsSync(join(d, 'cpu.cfs_quota_us')))
        if (mount == null) return undefined
        let quota = Infinity
        let quotaDir = ''
        for (const dir of lineage(mount, v1cpu.path)) {
          const q = Number(readText(join(dir, 'cpu.cfs_quota_us')))
          const p = Number(readText(join(dir, 'cpu.cfs_period_us')))
          if (q > 0 && p > 0 && q / p < quota) { quota = q / p; quotaDir = dir }
        }
        if (!Number.isFinite(quota)) return undefined
        counted = quotaDir
        const acct = lines.find(l => l.controllers.includes('cpuacct'))
        const acctMount = [join(root, 'cpuacct'), join(root, 'cpu,cpuacct'), join(root, 'cpuacct,cpu')].find(d => existsSync(join(d, 'cpuacct.usage')))
        // the usage of the cgroup that sets the quota (its children's included): where the
        // cpuacct hierarchy mirrors the cpu one (co-mounted, systemd, the test cluster), the same
        // path there; else this process's own cpuacct cgroup
        const usagePath = acct != null && acct.path === v1cpu.path ? relative(mount, quotaDir) : acct?.path
        const usageNs = usagePath != null && acctMount != null ? Number(readText(join(acctMount, usagePath, 'cpuacct.usage'))) : NaN
        return {
          version: 1,
          path: v1cpu.path,
          quotaCores: quota,
          usageUsec: Number.isFinite(usageNs) ? usageNs / 1000 : undefined,
          runnable: runnableInTree(quotaDir, states)
        }
      }
      const unified = lines.find(l => l.controllers.length === 0)
      if (unified == null || !existsSync(join(root, 'cgroup.controllers'))) return undefined
      let quota = Infinity
      let quotaDir = ''
      for (const dir of lineage(root, unified.path)) {
        const [max, period] = (readText(join(dir, 'cpu.max')) ?? 'max').trim().split(/\s+/)
        if (max !== 'max' && Number(max) > 0 && Number(period) > 0 && Number(max) / Number(period) < quota) { quota = Number(max) / Number(period); quotaDir = dir }
      }
      if (!Number.isFinite(quota)) return undefined
      counted = quotaDir
      const usage = /usage_usec\s+(\d+)/.exec(readText(join(quotaDir, 'cpu.stat')) ?? '')?.[1]
      return {
        version: 2,
        path: unified.path,
        quotaCores: quota,
        usageUsec: usage != null ? Number(usage) : undefined,
        runnable: runnableInTree(quotaDir, states)
      }
    }
  }
  return reader
}
