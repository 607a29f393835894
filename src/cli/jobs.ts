/**
 * `kappa-node jobs [--follow] [--json] [--wide] [--limit N]`: jobs running
 * now and recent ones, from the daemon (or, when it is not running, from
 * the history file in the home).
 */
import { createInterface } from 'node:readline'
import { callDaemon, openDaemonSocket } from '../control/client.js'
import { homeFile, resolveHome } from '../home/index.js'
import { NotRunningError, UserError } from '../errors.js'
import { JOBS_LISTED } from '../constants.js'
import { readJobHistory } from '../jobs/history.js'
import { jobBytes, jobDuration, jobResult, jobWhere, type PeerNamer } from '../jobs/describe.js'
import { commandLine, formatBytes, formatDuration } from '../units.js'
import { label, shortId } from '../names.js'
import { table, TABLE_WIDTH } from './table.js'
import type { JobRecord } from '../events.js'

export interface JobsOptions { home?: string, json?: boolean, follow?: boolean, wide?: boolean, limit?: number }

interface JobList { running: JobRecord[], recent: JobRecord[] }

/** "14:03:01" today, "12-01 14:03" before */
function when (ms: number, now: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  return new Date(now).toDateString() === d.toDateString() ? time : `${p(d.getMonth() + 1)}-${p(d.getDate())} ${time.slice(0, 5)}`
}

export function jobsTable (list: JobList, name: PeerNamer, wide: boolean, now = Date.now()): string {
  const rows = [...list.running, ...list.recent].map(j => [
    when(j.startedAt, now),
    jobWhere(j, name),
    formatDuration(jobDuration(j, now)),
    j.endedAt == null ? 'running' : jobResult(j),
    formatBytes(jobBytes(j)),
    commandLine(j.argv)
  ])
  return table([
    { header: 'STARTED' }, { header: 'WHERE', flex: true }, { header: 'TIME', right: true },
    { header: 'RESULT', flex: true }, { header: 'MOVED', right: true }, { header: 'COMMAND', flex: true }
  ], rows, wide ? null : TABLE_WIDTH)
}

/** One line per update for --follow. */
export function followLine (type: 'job-started' | 'job-ended', j: JobRecord, name: PeerNamer, now = Date.now()): string {
  const head = `${when(type === 'job-started' ? j.startedAt : j.endedAt ?? now, now)}  ${type === 'job-started' ? 'started' : 'ended  '}  `
  const tail = type === 'job-started'
    ? `${jobWhere(j, name)}: ${commandLine(j.argv)}`
    : `${jobWhere(j, name)}: ${jobResult(j)} in ${formatDuration(jobDuration(j, now))}, ${formatBytes(jobBytes(j))} moved: ${commandLine(j.argv)}`
  return head + tail
}

async function peerNamer (home: string, wide: boolean): Promise<PeerNamer> {
  const aliases = new Map<string, string>()
  try {
    const peers: Array<{ id: string, alias: string | null }> = await callDaemon(home, 'peers')
    for (const p of peers) if (p.alias != null) aliases.set(p.id, p.alias)
  } catch {
    // no daemon: ids only
  }
  return (id) => wide ? (aliases.has(id) ? `${aliases.get(id) as string} (${id})` : id) : (aliases.get(id) ?? shortId(id))
}

export async function jobsCommand (opts: JobsOptions): Promise<number> {
  const home = resolveHome(opts.home)
  const limit = opts.limit ?? JOBS_LISTED
  if (opts.follow === true) return await follow(home, opts)
  let list: JobList
  let fromFile = false
  try {
    list = await callDaemon(home, 'jobs', { limit })
  } catch (err) {
    if (!(err instanceof NotRunningError)) throw err
    // like `parallel --joblog`: the history is a file, readable without the node
    const file = homeFile(home, 'jobLog')
    const history = await readJobHistory(file, limit)
    list = { running: [], recent: history.jobs.reverse() }
    fromFile = true
    if (opts.json !== true) process.stderr.write(`kappa-node: the node is not running; jobs from ${file}\n`)
  }
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(list, null, 2) + '\n')
    return 0
  }
  if (list.running.length === 0 && list.recent.length === 0) {
    process.stdout.write(fromFile ? 'no jobs recorded yet\n' : 'no jobs yet; start one with: kappa-node run -- <command>\n')
    return 0
  }
  const name = fromFile ? (id: string) => opts.wide === true ? id : label(id) : await peerNamer(home, opts.wide === true)
  process.stdout.write(jobsTable(list, name, opts.wide === true) + '\n')
  return 0
}

async function follow (home: string, opts: JobsOptions): Promise<number> {
  const name = await peerNamer(home, opts.wide === true)
  const socket = await openDaemonSocket(home)
  socket.write(JSON.stringify({ method: 'jobs-follow', params: {} }) + '\n')
  const lines = createInterface({ input: socket })
  let first = true
  for await (const line of lines) {
    let msg: any
    try {
      msg = JSON.parse(line)
    } catch {
      throw new UserError('the daemon sent a malformed line')
    }
    if (first) {
      first = false
      if (msg.ok !== true) throw new UserError(String(msg.error ?? 'the daemon refused to follow jobs'))
      const running: JobRecord[] = msg.result?.running ?? []
      for (const job of running) {
        process.stdout.write(opts.json === true ? JSON.stringify({ type: 'job-started', job }) + '\n' : followLine('job-started', job, name) + '\n')
      }
      continue
    }
    if (msg.type !== 'job-started' && msg.type !== 'job-ended') continue
    process.stdout.write(opts.json === true ? JSON.stringify(msg) + '\n' : followLine(msg.type, msg.job, name) + '\n')
  }
  process.stderr.write('kappa-node: the node stopped\n')
  return 1
}
