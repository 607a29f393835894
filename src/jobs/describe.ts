/**
 * A job in plain words, for `kappa-node jobs`, the daemon's log and the
 * dashboard (which loads this file as a module: no Node imports here).
 */
import { commandLine, formatBytes, formatDuration } from '../units.js'
import { label } from '../names.js'
import type { JobRecord } from '../events.js'

/** How a peer is called: its alias if known, else its short id. */
export type PeerNamer = (id: string) => string

export const defaultNamer: PeerNamer = (id) => label(id)

/** "here", "on desk", "for laptop", "here, not on desk" (fell back) */
export function jobWhere (job: Pick<JobRecord, 'direction' | 'origin' | 'target' | 'outcome'>, name: PeerNamer = defaultNamer): string {
  if (job.direction === 'local') return 'here'
  if (job.outcome === 'fell-back' && job.direction === 'out') return `here, not on ${name(job.target)}`
  if (job.direction === 'out') return `on ${name(job.target)}`
  return `for ${name(job.origin)}`
}

/** "running", "ok", "exit 2", "killed (SIGTERM)", "lost", "refused", "ran here instead" */
export function jobResult (job: Pick<JobRecord, 'outcome' | 'exitCode' | 'signal' | 'endedAt'>): string {
  switch (job.outcome) {
    case undefined: return job.endedAt == null ? 'running' : '?'
    case 'ok': return 'ok'
    case 'failed': return job.exitCode != null ? `exit ${job.exitCode}` : 'failed'
    case 'signal': return job.signal != null ? `killed (${job.signal})` : 'killed'
    case 'lost': return 'lost'
    case 'refused': return 'refused'
    case 'fell-back': return 'ran here instead'
  }
}

/** Bytes this node moved for the job, both ways. */
export function jobBytes (job: Pick<JobRecord, 'bytesSent' | 'bytesReceived'>): number {
  const sum = (b: JobRecord['bytesSent'] | undefined): number => b == null ? 0 : b.executable + b.workspace + b.stdio
  return sum(job.bytesSent) + sum(job.bytesReceived)
}

/** How long it ran (or has been running, at `now`). */
export function jobDuration (job: Pick<JobRecord, 'startedAt' | 'durationMs' | 'endedAt'>, now: number): number {
  return job.durationMs ?? (job.endedAt ?? now) - job.startedAt
}

/** One line for the log: "cc -c x.c on desk: ok in 2.3 s, 1.2 MiB moved (cached)" */
export function jobSummary (job: JobRecord, name: PeerNamer = defaultNamer, now = Date.now()): string {
  const moved = jobBytes(job)
  const extras = [
    `${moved > 0 ? formatBytes(moved) : 'nothing'} moved`,
    ...(job.cached === true ? ['cached'] : []),
    ...(job.path === 'bulk' ? ['bulk connection'] : [])
  ]
  const why = job.outcome === 'fell-back' || job.outcome === 'refused' || job.outcome === 'lost' ? (job.reason != null ? `: ${job.reason}` : '') : ''
  return `${commandLine(job.argv)} ${jobWhere(job, name)}: ${jobResult(job)}${why} in ${formatDuration(jobDuration(job, now))}, ${extras.join(', ')}`
}
