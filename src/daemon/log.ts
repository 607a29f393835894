import { fstatSync } from 'node:fs'
import { shortId, label } from '../names.js'
import { printable } from '../units.js'
import { jobSummary } from '../jobs/describe.js'
import type { DaemonEvent, DaemonEvents } from '../events.js'

export type LogLevel = 'info' | 'warn'

export interface EventLogOptions {
  /** one JSON object per line instead of text */
  json: boolean
  out?: NodeJS.WritableStream
  /**
   * Lines go to journald (systemd): no date (the journal adds its own), the
   * level as a syslog priority prefix (`<4>`) that journald reads. Default:
   * detected from JOURNAL_STREAM, as systemd documents.
   */
  journald?: boolean
  /** clock (tests) */
  now?: () => Date
}

/** The daemon's log: its events as lines, and the bus components subscribe to. */
export interface EventLog extends DaemonEvents {
  /** hold text lines back (a question is on the terminal); `release` prints them */
  hold (): void
  release (): void
  /** runs before each text line is written (clears a progress line drawn on the same terminal) */
  beforeWrite (fn: (() => void) | undefined): void
}

/** Most lines a held log keeps; more are counted and reported on release. */
const HELD_MAX = 200

/**
 * Text lines `2026-12-02 14:03:01 INFO  connected to b (12D3KooW…x1y2z3)`
 * (or `<6>connected to …` under journald), or with --json one JSON object
 * per line.
 */
export function createEventLog (opts: EventLogOptions): EventLog {
  const out = opts.out ?? process.stdout
  const journald = opts.journald ?? underJournald()
  const now = opts.now ?? (() => new Date())
  const listeners: Array<(e: DaemonEvent) => void> = []
  let held: string[] | undefined
  let dropped = 0
  let before: (() => void) | undefined
  const write = (line: string): void => {
    before?.()
    out.write(line)
  }
  return {
    subscribe (listener) {
      listeners.push(listener)
      return () => {
        const at = listeners.indexOf(listener)
        if (at >= 0) listeners.splice(at, 1)
      }
    },
    emit (event) {
      if (opts.json) {
        out.write(redactInvites(JSON.stringify({ time: now().toISOString(), ...event })) + '\n')
      } else {
        const raw = describe(event)
        const text = raw == null ? undefined : redactInvites(raw)
        if (text != null) {
          const level: LogLevel = event.type === 'warning' ? 'warn' : 'info'
          const line = journald ? `${level === 'warn' ? '<4>' : '<6>'}${text}\n` : `${stamp(now())} ${level === 'warn' ? 'WARN' : 'INFO'}  ${text}\n`
          if (held != null) {
            if (held.length < HELD_MAX) held.push(line); else dropped++
          } else {
            write(line)
          }
        }
      }
      for (const l of listeners) {
        try {
          l(event)
        } catch (err) {
          write(`${stamp(now())} WARN  a listener of '${event.type}' failed: ${(err as Error).message}\n`)
        }
      }
    },
    hold () {
      held ??= []
    },
    release () {
      const lines = held ?? []
      held = undefined
      for (const line of lines) write(line)
      if (dropped > 0) write(`${stamp(now())} WARN  ${dropped} more log lines were dropped while a question was open\n`)
      dropped = 0
    },
    beforeWrite (fn) {
      before = fn
    }
  }
}

/** systemd sets JOURNAL_STREAM to the device:inode of the journal stream on stdout/stderr. */
export function underJournald (env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.JOURNAL_STREAM
  if (value == null || value === '') return false
  try {
    const st = fstatSync(1)
    return value === `${st.dev}:${st.ino}`
  } catch {
    return false
  }
}

/** local date and time, to the second: 2026-12-02 14:03:01 */
export function stamp (d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

function describe (e: DaemonEvent): string | undefined {
  switch (e.type) {
    case 'ready': return undefined // the banner says it
    case 'paired': return `paired with ${label(e.id, e.alias)} (${e.via})`
    case 'unpaired': return e.by === 'us' ? `unpaired ${label(e.id, e.alias)}` : `${label(e.id, e.alias)} unpaired us`
    case 'pair-request': return `pairing request from ${label(e.id, e.alias)}; to accept run: kappa-node accept ${e.id}`
    case 'discovered': return `found unpaired kappa node ${shortId(e.id)} on the LAN; to pair run: kappa-node pair ${e.addrs[0] ?? e.id}`
    case 'connected': return `connected to ${label(e.id, e.alias)}`
    case 'disconnected': return `disconnected from ${label(e.id, e.alias)}`
    case 'neighbour-expired': return `${label(e.id, e.alias)} went silent: no longer used for routing`
    case 'job-placed': return e.where === 'remote' ? `${printable(e.argv0)} → ${label(e.target ?? '', e.alias)} (sysmetric ${e.sysmetric?.toFixed(1) ?? '?'})` : `${printable(e.argv0)} runs here (${e.reason ?? 'local is best'})`
    // one line per job, when it ends (`kappa-node jobs --follow` shows starts too)
    case 'job-started': return undefined
    case 'job-ended': return `job ${jobSummary(e.job)}`
    case 'warning': return e.message
    case 'info': return e.message
  }
}

/**
 * Logs are kept, copied and shared: an invite token in one would pair
 * whoever reads it. Nothing should put one there; this is the last guard.
 */
export function redactInvites (line: string): string {
  return line.replace(INVITE_TOKEN, '$1…@')
}

const INVITE_TOKEN = /(kappa:)[A-Za-z0-9_-]{8,}@/g
