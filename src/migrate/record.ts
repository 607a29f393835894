import type { DaemonEvents, JobRecord } from '../events.js'

type Outcome = NonNullable<JobRecord['outcome']>

/**
 * One job's record, emitted as `job-started` and, once and complete, as
 * `job-ended` (the job history, `kappa-node jobs`, the dashboard and
 * /metrics are built from these two events only).
 */
export class JobRecorder {
  readonly job: JobRecord
  started = false
  private ended = false

  constructor (private readonly events: DaemonEvents, init: Pick<JobRecord, 'id' | 'direction' | 'origin' | 'target' | 'argv'> & Partial<JobRecord>) {
    this.job = {
      startedAt: Date.now(),
      bytesSent: { executable: 0, workspace: 0, stdio: 0 },
      bytesReceived: { executable: 0, workspace: 0, stdio: 0 },
      ...init
    }
  }

  start (extra: Partial<JobRecord> = {}): void {
    if (this.started || this.ended) return
    this.started = true
    Object.assign(this.job, extra)
    this.events.emit({ type: 'job-started', job: { ...this.job, bytesSent: { ...this.job.bytesSent }, bytesReceived: { ...this.job.bytesReceived } } })
  }

  /** The outcome follows from the exit code and signal unless given. */
  end (extra: Partial<JobRecord> = {}): void {
    if (this.ended) return
    this.ended = true
    Object.assign(this.job, extra)
    const endedAt = Date.now()
    this.job.endedAt = endedAt
    this.job.durationMs = endedAt - this.job.startedAt
    this.job.outcome ??= outcomeOf(this.job)
    this.events.emit({ type: 'job-ended', job: this.job })
  }
}

function outcomeOf (job: JobRecord): Outcome {
  if (job.signal != null && job.signal !== '') return 'signal'
  if (job.exitCode == null) return 'lost'
  return job.exitCode === 0 ? 'ok' : 'failed'
}
