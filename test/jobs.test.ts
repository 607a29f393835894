import assert from 'node:assert/strict'
import { readFile, writeFile, appendFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createJobs, readJobHistory, type JobUpdate } from '../src/jobs/index.js'
import { jobResult, jobSummary, jobWhere } from '../src/jobs/describe.js'
import { jobsTable } from '../src/cli/jobs.js'
import { cleanup, tmpDir } from './helpers/node.js'
import type { DaemonEvent, JobRecord } from '../src/events.js'

const A = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const B = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'

function job (id: string, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    direction: 'out',
    origin: A,
    target: B,
    argv: ['cc', '-c', `${id}.c`],
    startedAt: 1_000_000,
    bytesSent: { executable: 1000, workspace: 2000, stdio: 10 },
    bytesReceived: { executable: 0, workspace: 500, stdio: 20 },
    ...extra
  }
}

/** the daemon's bus, in-process: what src/migrate emits on */
function bus (): { emit: (e: DaemonEvent) => void, subscribe: (l: (e: DaemonEvent) => void) => () => void } {
  const listeners: Array<(e: DaemonEvent) => void> = []
  return { emit: (e) => { for (const l of listeners) l(e) }, subscribe: (l) => { listeners.push(l); return () => {} } }
}

describe('jobs service (src/jobs)', () => {
  afterEach(cleanup)

  it('follows job-started / job-ended: running, then finished with its outcome, in memory and in the history file', async () => {
    const dir = await tmpDir()
    const file = join(dir, 'jobs.jsonl')
    const events = bus()
    const logs: string[] = []
    const jobs = createJobs({ events, file, log: (l) => { logs.push(l) } })
    await jobs.start()
    const seen: JobUpdate[] = []
    jobs.subscribe((u) => { seen.push(u) })

    events.emit({ type: 'job-started', job: job('1') })
    events.emit({ type: 'job-started', job: job('2', { direction: 'local', target: A }) })
    assert.deepEqual(jobs.running().map(j => j.id), ['1', '2'])
    events.emit({ type: 'job-ended', job: job('1', { endedAt: 1_002_500, exitCode: 0, outcome: 'ok', path: 'bulk' }) })
    events.emit({ type: 'job-ended', job: job('2', { direction: 'local', target: A, endedAt: 1_001_000, exitCode: 3 }) })
    assert.deepEqual(jobs.running(), [])
    const recent = jobs.recent()
    assert.deepEqual(recent.map(j => [j.id, j.outcome, j.durationMs]), [['2', 'failed', 1000], ['1', 'ok', 2500]], 'newest first; an end without an outcome gets one from its exit status')
    assert.deepEqual(seen.map(u => `${u.type}:${u.job.id}`), ['job-started:1', 'job-started:2', 'job-ended:1', 'job-ended:2'])

    await jobs.flushed()
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(lines.map(l => l.id), ['1', '2'])
    assert.equal(lines[0].path, 'bulk')
    assert.deepEqual(lines[0].bytesSent, { executable: 1000, workspace: 2000, stdio: 10 })
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.deepEqual(logs, [])
    await jobs.stop()
  })

  it('keeps the history across restarts, bounded: rotated to jobs.jsonl.1 after N lines, one older file kept', async () => {
    const dir = await tmpDir()
    const file = join(dir, 'jobs.jsonl')
    const run = async (ids: string[]): Promise<string[]> => {
      const jobs = createJobs({ file, log: () => {} }, { kept: 5, rotateAfter: 3 })
      await jobs.start()
      for (const id of ids) jobs.record({ type: 'job-ended', job: job(id, { endedAt: 1_000_100, exitCode: 0 }) })
      await jobs.stop()
      return jobs.recent().map(j => j.id)
    }
    assert.deepEqual(await run(['a', 'b']), ['b', 'a'])
    assert.deepEqual(await run(['c', 'd', 'e', 'f', 'g']), ['g', 'f', 'e', 'd', 'c'], 'the previous run\'s jobs came back; memory keeps 5')
    const current = (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l).id)
    const older = (await readFile(`${file}.1`, 'utf8')).trim().split('\n').map(l => JSON.parse(l).id)
    assert.deepEqual(older, ['d', 'e', 'f'])
    assert.deepEqual(current, ['g'])
    assert.deepEqual((await readJobHistory(file)).jobs.map(j => j.id), ['d', 'e', 'f', 'g'], 'a and b, c rotated away: bounded')
  })

  it('a torn or foreign line in the history is skipped with one log line, not a crash', async () => {
    const dir = await tmpDir()
    const file = join(dir, 'jobs.jsonl')
    await writeFile(file, JSON.stringify(job('ok1', { endedAt: 1_000_001, exitCode: 0 })) + '\n' + '{"id":"torn","direc\n' + '[1,2,3]\n')
    await appendFile(file, JSON.stringify(job('ok2', { endedAt: 1_000_002, exitCode: 0 })) + '\n')
    const logs: string[] = []
    const jobs = createJobs({ file, log: (l) => { logs.push(l) } })
    await jobs.start()
    assert.deepEqual(jobs.recent().map(j => j.id), ['ok2', 'ok1'])
    assert.equal(logs.length, 1)
    assert.match(logs[0], /skipped 2 unreadable line/)
    await jobs.stop()
  })

  it('what a peer chose is bounded and checked: argv cut, bogus fields dropped, malformed events ignored', async () => {
    const logs: string[] = []
    const jobs = createJobs({ log: (l) => { logs.push(l) } })
    await jobs.start()
    jobs.record({ type: 'job-ended', job: job('big', { argv: ['x'.repeat(10_000), 'y'], exitCode: 999 as any, signal: 'rm -rf' as any, outcome: 'weird' as any, endedAt: 1_000_010 }) })
    jobs.record({ type: 'job-ended', job: { id: 5 } as any })
    const [j] = jobs.recent()
    assert.equal(j.argv.length, 1)
    assert.ok(j.argv[0].length <= 4097 && j.argv[0].endsWith('…'))
    assert.equal(j.exitCode, undefined)
    assert.equal(j.signal, undefined)
    assert.equal(j.outcome, 'lost', 'no exit status, no known outcome')
    assert.equal(jobs.recent().length, 1)
    assert.match(logs[0], /ignored a malformed job-ended event/)
    await jobs.stop()
  })

  it('jobs still running when the node stops end as lost, in the history too', async () => {
    const dir = await tmpDir()
    const file = join(dir, 'jobs.jsonl')
    const jobs = createJobs({ file, log: () => {}, now: () => 1_005_000 })
    await jobs.start()
    jobs.record({ type: 'job-started', job: job('r', { direction: 'in' }) })
    await jobs.stop()
    const [line] = (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l))
    assert.equal(line.id, 'r')
    assert.equal(line.outcome, 'lost')
    assert.equal(line.durationMs, 5000)
    assert.match(line.reason, /node stopped/)
  })

  it('says where and how each job ended in plain words, and the table fits 80 columns', () => {
    const name = (id: string): string => id === B ? 'desk' : 'laptop'
    assert.equal(jobWhere(job('1'), name), 'on desk')
    assert.equal(jobWhere(job('1', { direction: 'in' }), name), 'for laptop')
    assert.equal(jobWhere(job('1', { direction: 'local' }), name), 'here')
    assert.equal(jobResult({ outcome: 'failed', exitCode: 2 }), 'exit 2')
    assert.equal(jobResult({ outcome: 'signal', signal: 'SIGKILL' }), 'killed (SIGKILL)')
    assert.equal(jobResult({ outcome: 'fell-back' }), 'ran here instead')
    assert.equal(jobResult({}), 'running')
    assert.equal(jobSummary(job('1', { outcome: 'ok', exitCode: 0, durationMs: 2300, endedAt: 1_002_300, cached: true }), name), 'cc -c 1.c on desk: ok in 2.3 s, 3.4 KiB moved, cached')
    // an escape sequence in a peer's argv is not sent to the terminal
    const evil = job('e', { argv: ['sh', '-c', 'echo \x1b[2J pwned; sleep 100000000000000000000000000000000000000000'], outcome: 'ok', exitCode: 0, endedAt: 1_000_500 })
    const text = jobsTable({ running: [job('r')], recent: [evil] }, name, false, 1_010_000)
    assert.ok(!text.includes('\x1b'), 'no escape character')
    for (const line of text.split('\n')) assert.ok(line.length <= 80, `${line.length} columns: ${line}`)
    assert.match(text, /^STARTED\s+WHERE\s+TIME\s+RESULT\s+MOVED\s+COMMAND$/m)
    assert.match(text, /on desk\s+10 s\s+running/)
    const wide = jobsTable({ running: [], recent: [evil] }, name, true, 1_010_000)
    assert.ok(wide.split('\n')[1].length > 80, '--wide does not cut')
  })
})
