import { JOB_HISTORY_KEPT, JOB_HISTORY_ROTATE } from '../constants.js'
import { JobHistoryFile, readJobHistory, sanitizeJob } from './history.js'
import type { JobRecord } from '../events.js'
import type { Jobs, JobsComponents, JobsInit, JobUpdate } from './index.js'

export function createJobs (components: JobsComponents, init: JobsInit = {}): Jobs {
  const kept = init.kept ?? JOB_HISTORY_KEPT
  const rotateAfter = init.rotateAfter ?? JOB_HISTORY_ROTATE
  const now = components.now ?? Date.now
  const running = new Map<string, JobRecord>()
  /** finished jobs, oldest first */
  let finished: JobRecord[] = []
  let history: JobHistoryFile | undefined
  const listeners = new Set<(update: JobUpdate) => void>()
  let listening = false
  let stopped = false

  const notify = (update: JobUpdate): void => {
    for (const l of listeners) {
      try {
        l(update)
      } catch (err) {
        components.log(`jobs: a listener failed: ${(err as Error).message}`)
      }
    }
  }

  const record = (update: JobUpdate): void => {
    if (stopped) return
    const job = sanitizeJob(update.job)
    if (job == null) {
      components.log(`jobs: ignored a malformed ${update.type} event`)
      return
    }
    if (update.type === 'job-started') {
      running.set(job.id, job)
      notify({ type: 'job-started', job })
      return
    }
    // an end without a start (the start came before we listened) is recorded all the same
    running.delete(job.id)
    job.endedAt ??= now()
    job.durationMs ??= Math.max(0, job.endedAt - job.startedAt)
    job.outcome ??= outcomeOf(job)
    finished.push(job)
    if (finished.length > kept) finished = finished.slice(finished.length - kept)
    history?.append(job)
    notify({ type: 'job-ended', job })
  }

  return {
    async start () {
      if (components.file != null) {
        let lines = 0
        try {
          const read = await readJobHistory(components.file, kept)
          finished = read.jobs
          lines = read.lines
          if (read.skipped > 0) components.log(`jobs: skipped ${read.skipped} unreadable line(s) in ${components.file}`)
        } catch (err) {
          components.log(`jobs: cannot read the job history ${components.file} (${(err as Error).message}); starting an empty one`)
        }
        history = new JobHistoryFile(components.file, rotateAfter, lines, components.log)
      }
      if (!listening && components.events != null) {
        listening = true
        components.events.subscribe((e) => {
          if (e.type === 'job-started' || e.type === 'job-ended') record({ type: e.type, job: e.job })
        })
      }
    },
    async stop () {
      if (stopped) return
      // whatever still runs will never report its end to this process
      for (const job of [...running.values()]) {
        record({ type: 'job-ended', job: { ...job, outcome: 'lost', reason: 'the node stopped while it ran', endedAt: now() } })
      }
      stopped = true
      await history?.flushed()
      listeners.clear()
    },
    record,
    running () {
      return [...running.values()].sort((a, b) => a.startedAt - b.startedAt)
    },
    recent (limit = kept) {
      return finished.slice(Math.max(0, finished.length - limit)).reverse()
    },
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    async flushed () {
      await history?.flushed()
    }
  }
}

/** An end without an outcome: what its exit status says. */
function outcomeOf (job: JobRecord): NonNullable<JobRecord['outcome']> {
  if (job.signal != null) return 'signal'
  if (job.exitCode === 0) return 'ok'
  if (job.exitCode != null) return 'failed'
  return 'lost'
}
