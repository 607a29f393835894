/**
 * Human-readable metric breakdown, for `kappa-node metric` and `status`:
 * every input and every intermediate value, one line per step of SPEC §4.
 */
import { DYNAMIC_SCALE, DYNAMIC_WEIGHT, STATIC_WEIGHT } from './constants.js'
import { formatAge } from '../units.js'
import type { MetricBreakdown, StaticScore } from './index.js'

export function formatStaticScore (s: Pick<StaticScore, 'score' | 'kernels' | 'cached' | 'measuredAt' | 'kernelsRun' | 'durationMs'> & { busy?: boolean }, now = Date.now()): string[] {
  const measured = Date.parse(s.measuredAt)
  const age = Number.isNaN(measured) ? s.measuredAt : `${formatAge(now - measured)} (${s.measuredAt})`
  const how = s.cached
    ? `cached: measured ${age}, no kernel ran now`
    : `measured now in ${(s.durationMs / 1000).toFixed(2)} s, ${s.kernelsRun} kernel runs`
  const lines = [`static     S = 100 · mean(ref/t) = ${s.score.toFixed(1)}   (${how}${s.busy === true ? '; on a busy machine' : ''})`]
  for (const k of s.kernels) {
    lines.push(`  ${k.name.padEnd(11)} t = ${fmt(k.ms, 2).padStart(7)} ms (best of ${k.reps.length})   ref ${fmt(k.refMs, 1).padStart(6)} ms   ratio ${k.ratio.toFixed(3)}`)
  }
  return lines
}

export function formatBreakdown (b: MetricBreakdown, s?: Pick<StaticScore, 'measuredAt' | 'kernelsRun' | 'durationMs'>): string {
  const memPct = 100 * b.memAvailableKiB / b.memTotalKiB
  const lines = [
    ...formatStaticScore({ score: b.static, kernels: b.kernels, cached: b.benchmarkCached, measuredAt: s?.measuredAt ?? b.benchmarkMeasuredAt ?? '?', kernelsRun: s?.kernelsRun ?? 0, durationMs: s?.durationMs ?? 0, busy: b.benchmarkBusy }),
    `cpu        C = ${b.cores} (CPU ${cpuList(b.cpus)})   window ${Math.round(b.windowMs)} ms: idle ${b.idleJiffies} + busy ${b.busyJiffies} jiffies`,
    `           f_idle = ${b.fIdle.toFixed(3)}   f_busy = ${b.fBusy.toFixed(3)}`,
    `           n = procs_running ${fmt(b.procsRunning, 1)} − 1 (this sampler) + pending ${b.pending} = ${fmt(b.running, 1)}`,
    ...(b.cgroup == null
      ? [`           share = min(1, C·f_idle + C·f_busy/(n+1)) = ${b.share.toFixed(3)}`]
      : [
          `cgroup     v${b.cgroup.version} quota Q = ${fmt(b.cgroup.quotaCores, 2)} CPUs   busy ${b.cgroup.fBusy.toFixed(3)} of it   runnable in it ${b.cgroup.runnable} + pending ${b.pending}`,
          `           share = min(1, Q·(1−busy) + Q·busy/(n_cg+1)) = ${b.share.toFixed(3)}   (the quota, not the shared machine)`
        ]),
    `memory     MemAvailable ${gib(b.memAvailableKiB)} of ${gib(b.memTotalKiB)} (${memPct.toFixed(1)} %), threshold ${fmt(100 * b.memThreshold, 1)} %   m = ${b.memFactor.toFixed(3)}`,
    `dynamic    D = ${DYNAMIC_SCALE} · share · m = ${b.dynamic.toFixed(1)}`,
    `sysmetric  (${STATIC_WEIGHT}·S + ${DYNAMIC_WEIGHT}·D) / 2 = ${b.sysmetric.toFixed(1)}`
  ]
  return lines.join('\n')
}

/** "0-3,6" from [0,1,2,3,6]. */
export function cpuList (cpus: readonly number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length; i++) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j
  }
  return parts.join(',')
}

function gib (kib: number): string {
  return kib >= 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(1)} GiB` : `${(kib / 1024).toFixed(0)} MiB`
}

/** Integers as such, other numbers to `digits` places. */
function fmt (x: number, digits: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(digits)
}
