/**
 * One progress line on a terminal's stderr, redrawn in place ("sending
 * input  120 MiB of 300 MiB  40 %  45 MB/s"), for long work: the first CPU
 * benchmark, transfers over PROGRESS_MIN_BYTES. Nothing at all when the
 * stream is not a terminal (logs and pipes stay clean). A leaf: the CLI, the
 * metric command and the run client (src/run) can all use it.
 */
import { formatBytes, formatRate, clip } from './units.js'

/** Transfers smaller than this show no progress line (they are over before one would help). */
export const PROGRESS_MIN_BYTES = 10 * 1024 * 1024
/** Redraws at most this often. */
const REDRAW_MS = 100

export interface ProgressStream {
  write (text: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressLine {
  /** `done` of `total` units (bytes for transfers, steps otherwise); `note` replaces the numbers' tail */
  update (done: number, total?: number, note?: string): void
  /** remove the line (before printing something else, or at the end) */
  clear (): void
  /** remove the line and, if given, print `message` as an ordinary line */
  done (message?: string): void
  /** whether anything is drawn (the stream is a terminal) */
  readonly active: boolean
}

export interface ProgressOptions {
  /** what is being done: "sending input", "benchmarking the CPU" */
  label: string
  /** 'bytes' shows sizes and a rate; 'steps' shows "3/48" */
  unit?: 'bytes' | 'steps'
  /** force drawing even on a stream that is not a TTY (tests) */
  force?: boolean
  now?: () => number
}

/** The text of a progress line (pure, for tests and other renderers). */
export function progressText (label: string, unit: 'bytes' | 'steps', done: number, total: number | undefined, elapsedMs: number, note?: string): string {
  const parts = [label]
  if (unit === 'bytes') {
    parts.push(total != null && total > 0 ? `${formatBytes(done)} of ${formatBytes(total)}` : formatBytes(done))
  } else if (total != null && total > 0) {
    parts.push(`${done}/${total}`)
  }
  if (total != null && total > 0) parts.push(`${Math.min(100, Math.floor(100 * done / total))} %`)
  if (unit === 'bytes' && elapsedMs > 500) parts.push(formatRate(done / (elapsedMs / 1000)))
  if (note != null && note !== '') parts.push(note)
  return parts.join('  ')
}

export function createProgressLine (stream: ProgressStream, opts: ProgressOptions): ProgressLine {
  const active = opts.force === true || stream.isTTY === true
  const now = opts.now ?? Date.now
  const unit = opts.unit ?? 'steps'
  const started = now()
  let drawn = false
  let lastDraw = 0
  const clear = (): void => {
    if (!drawn) return
    stream.write('\r\x1b[K')
    drawn = false
  }
  return {
    active,
    update (done, total, note) {
      if (!active) return
      const t = now()
      const finished = total != null && done >= total
      if (drawn && !finished && t - lastDraw < REDRAW_MS) return
      lastDraw = t
      const width = Math.max(20, (stream.columns ?? 80) - 1)
      stream.write(`\r\x1b[K${clip(progressText(opts.label, unit, done, total, t - started, note), width)}`)
      drawn = true
    },
    clear,
    done (message) {
      clear()
      if (message != null) stream.write(`${message}\n`)
    }
  }
}
