/**
 * The breakdown from its inputs: pure, so the same readings give a new
 * value at once when only the pending work changed.
 */
import { cgroupShare, cpuShare, dynamicMetric, memFactor, sysmetric } from './formula.js'
import type { MetricBreakdown, StaticScore } from './index.js'
import type { Inputs } from './window.js'

/** S, the window's readings and `pendingJobs` promised jobs as one breakdown (share, m, D, sysmetric). */
export function computeBreakdown (s: StaticScore, i: Inputs, pendingJobs: number, memThreshold: number): MetricBreakdown {
  const cores = Math.max(1, i.cores)
  // processes running now (fresh()) count at once: a job that has just started is busy time
  // before the window's average shows it; the window's busy time stays until it has passed
  const runningNow = i.now == null ? undefined : Math.max(0, i.now.procsRunning - 1)
  const fIdle = runningNow == null ? i.fIdle : Math.min(i.fIdle, 1 - Math.min(1, runningNow / cores))
  const runningProcs = (runningNow ?? Math.max(0, i.procsRunning - 1)) + pendingJobs // minus the sampler, which read the file
  // a pending job will keep a core busy: count it as busy time as well as a runnable process,
  // or an idle node would look idle however many jobs it has just promised to take
  const hostShare = cpuShare(i.cores, Math.max(0, fIdle - pendingJobs / cores), runningProcs)
  // under a CPU quota the cgroup is the machine: /proc/stat counts every container or
  // emulated host sharing this kernel, and the quota is what this node may use
  let share = hostShare
  let busyNow = 1 - fIdle
  if (i.cgroup != null) {
    const q = i.cgroup.quotaCores
    const runnable = i.now?.cgroupRunnable ?? i.cgroup.runnable
    const busy = i.now?.cgroupRunnable == null ? i.cgroup.fBusy : Math.max(i.cgroup.fBusy, Math.min(1, runnable / q))
    busyNow = busy
    share = cgroupShare(q, Math.min(1, busy + pendingJobs / q), runnable + pendingJobs)
  }
  const m = memFactor(i.mem.availableKiB, i.mem.totalKiB, memThreshold)
  const dynamic = dynamicMetric(share, m)
  return {
    static: s.score,
    kernels: s.kernels,
    benchmarkCached: s.cached,
    benchmarkMeasuredAt: s.measuredAt,
    benchmarkBusy: s.busy,
    cores: i.cores,
    cpus: i.cpus,
    fIdle: i.fIdle,
    fBusy: 1 - i.fIdle,
    idleJiffies: i.idleJiffies,
    busyJiffies: i.busyJiffies,
    procsRunning: i.procsRunning,
    running: runningProcs,
    pending: pendingJobs,
    share,
    busyNow,
    memAvailableKiB: i.mem.availableKiB,
    memTotalKiB: i.mem.totalKiB,
    memThreshold,
    memFactor: m,
    dynamic,
    sysmetric: sysmetric(s.score, dynamic),
    windowMs: i.windowMs,
    sampledAt: i.sampledAt,
    cgroup: i.cgroup ?? null
  }
}
