/**
 * Jobs as this node saw them, built from the `job-started` / `job-ended`
 * events only (src/events.ts): the ones running now, a bounded history of
 * finished ones kept in the home (joblog-style, one JSON line per job), and
 * live updates for `kappa-node jobs --follow`, the dashboard and /metrics.
 */
import type { DaemonEvents, JobRecord } from '../events.js'

export type { JobRecord } from '../events.js'

export type JobUpdate = { type: 'job-started' | 'job-ended', job: JobRecord }

export interface JobsComponents {
  /** where job-started / job-ended come from (the daemon's event bus) */
  events?: Pick<DaemonEvents, 'subscribe'>
  /** the history file ($KAPPA_HOME/jobs.jsonl); without one, memory only */
  file?: string
  /** unusual events only (an unreadable or unwritable history) */
  log: (line: string) => void
  now?: () => number
}

export interface JobsInit {
  /** finished jobs kept in memory */
  kept?: number
  /** lines after which the history file is rotated */
  rotateAfter?: number
}

export interface Jobs {
  /** load the history from the file and start listening */
  start (): Promise<void>
  /** jobs still running end as `lost` (the node stopped); pending writes are flushed */
  stop (): Promise<void>
  /** take one update (what the event subscription calls) */
  record (update: JobUpdate): void
  /** running jobs, oldest first */
  running (): JobRecord[]
  /** finished jobs, newest first */
  recent (limit?: number): JobRecord[]
  /** hears every update after it was recorded; returns the unsubscribe function */
  subscribe (listener: (update: JobUpdate) => void): () => void
  /** resolves once every finished job so far is in the file */
  flushed (): Promise<void>
}

export { createJobs } from './service.js'
export { readJobHistory, sanitizeJob } from './history.js'
