/**
 * The job history file: finished jobs appended as JSON lines (like
 * `parallel --joblog`), rotated to `<file>.1` after a number of lines so it
 * stays bounded. Appends are whole lines written by one process; a line cut
 * short by a crash is skipped when the file is read back.
 */
import { appendFile, readFile, rename } from 'node:fs/promises'
import { JOB_ARGV_SHOWN_BYTES } from '../constants.js'
import PQueue from 'p-queue'
import type { JobRecord } from '../events.js'

const DIRECTIONS = new Set(['in', 'out', 'local'])
const OUTCOMES = new Set(['ok', 'failed', 'signal', 'lost', 'refused', 'fell-back'])
const KINDS = ['executable', 'workspace', 'stdio'] as const

/**
 * A job record fit to store and show: known fields only, argv bounded (a
 * peer chooses it), numbers finite. Undefined when it is not a job at all.
 */
export function sanitizeJob (value: unknown): JobRecord | undefined {
  if (value == null || typeof value !== 'object') return undefined
  const j = value as Record<string, any>
  if (typeof j.id !== 'string' || j.id === '' || !DIRECTIONS.has(j.direction)) return undefined
  if (typeof j.startedAt !== 'number' || !Number.isFinite(j.startedAt)) return undefined
  const job: JobRecord = {
    id: j.id.slice(0, 128),
    direction: j.direction,
    origin: str(j.origin) ?? '',
    target: str(j.target) ?? '',
    argv: boundedArgv(j.argv),
    startedAt: j.startedAt,
    bytesSent: bytes(j.bytesSent),
    bytesReceived: bytes(j.bytesReceived)
  }
  const cwd = str(j.cwd)
  if (cwd != null) job.cwd = cwd.slice(0, JOB_ARGV_SHOWN_BYTES)
  const reason = str(j.reason)
  if (reason != null) job.reason = reason.slice(0, 1024)
  if (finite(j.endedAt)) job.endedAt = j.endedAt
  if (finite(j.durationMs)) job.durationMs = Math.max(0, j.durationMs)
  else if (job.endedAt != null) job.durationMs = Math.max(0, job.endedAt - job.startedAt)
  if (j.path === 'stream' || j.path === 'bulk') job.path = j.path
  if (typeof j.cached === 'boolean') job.cached = j.cached
  if (j.exitCode === null || (Number.isInteger(j.exitCode) && j.exitCode >= 0 && j.exitCode <= 255)) job.exitCode = j.exitCode
  if (j.signal === null || (typeof j.signal === 'string' && /^SIG[A-Z0-9+]{1,12}$/.test(j.signal))) job.signal = j.signal
  if (OUTCOMES.has(j.outcome)) job.outcome = j.outcome
  return job
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function finite (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

function bytes (v: any): JobRecord['bytesSent'] {
  const out = { executable: 0, workspace: 0, stdio: 0 }
  if (v != null && typeof v === 'object') {
    for (const k of KINDS) if (finite(v[k]) && v[k] > 0) out[k] = v[k]
  }
  return out
}

/** argv cut to JOB_ARGV_SHOWN_BYTES in all; a cut list ends with '…'. */
function boundedArgv (v: unknown): string[] {
  if (!Array.isArray(v)) return []
  const out: string[] = []
  let left = JOB_ARGV_SHOWN_BYTES
  for (const a of v) {
    if (typeof a !== 'string') continue
    if (a.length > left) {
      out.push(a.slice(0, Math.max(0, left)) + '…')
      break
    }
    out.push(a)
    left -= a.length
  }
  return out
}

/** Lines of `text` that are job records (others counted as skipped). */
function parseLines (text: string): { jobs: JobRecord[], skipped: number } {
  const jobs: JobRecord[] = []
  let skipped = 0
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let job: JobRecord | undefined
    try {
      job = sanitizeJob(JSON.parse(line))
    } catch {
      job = undefined
    }
    if (job == null) skipped++
    else jobs.push(job)
  }
  return { jobs, skipped }
}

/** The finished jobs in `file` and `file.1`, oldest first, at most `limit` (the newest). */
export async function readJobHistory (file: string, limit = Infinity): Promise<{ jobs: JobRecord[], skipped: number, lines: number }> {
  const read = async (path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
      throw err
    }
  }
  const older = parseLines(await read(`${file}.1`))
  const current = parseLines(await read(file))
  const jobs = [...older.jobs, ...current.jobs]
  return {
    jobs: jobs.slice(Math.max(0, jobs.length - limit)),
    skipped: older.skipped + current.skipped,
    lines: current.jobs.length + current.skipped
  }
}

/** Appends one line per job, one write at a time, rotating after `rotateAfter` lines. */
export class JobHistoryFile {
  /** one write at a time, in order */
  private readonly writes = new PQueue({ concurrency: 1 })
  private failing = false

  constructor (private readonly file: string, private readonly rotateAfter: number, private lines: number, private readonly log: (line: string) => void) {}

  append (job: JobRecord): void {
    void this.writes.add(async () => {
      try {
        if (this.lines >= this.rotateAfter) {
          await rename(this.file, `${this.file}.1`)
          this.lines = 0
        }
        await appendFile(this.file, JSON.stringify(job) + '\n', { mode: 0o600 })
        this.lines++
        if (this.failing) this.log(`jobs: writing ${this.file} works again`)
        this.failing = false
      } catch (err) {
        // the history is a record, not state the node needs: say so once and go on
        if (!this.failing) this.log(`jobs: cannot write the job history ${this.file} (${(err as Error).message}); jobs are kept in memory only`)
        this.failing = true
      }
    })
  }

  async flushed (): Promise<void> {
    await this.writes.onIdle()
  }
}
