import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanup, tmpDir, until, type TestNode } from '../helpers/node.js'
import { inProcessDaemon } from '../helpers/inprocess.js'
import { runJob } from '../helpers/run.js'

/**
 * A target's own metric around a job it runs for another node: the ticket
 * it issued counts as pending work (src/metric/pending.ts) and must stop
 * counting when the job is over, not when the promise lapses (2 s later).
 */
describe('a target that finishes a job', function () {
  this.timeout(120_000)
  afterEach(cleanup)

  it('counts its ticket as pending work no more once the job exited', async () => {
    // pinned metrics: A (37) sends its job to B (148), whose ticket is pending work there until the job ends
    const a = await inProcessDaemon('a', { metricOverride: 37, http: false, delayMs: 150 })
    const b = await inProcessDaemon('b', { metricOverride: 148, http: false, delayMs: 150 })
    await b.pairing.pair(a.invite().invite)
    await until('B live for A', async () => a.overlay.status().neighbours.some(n => n.live && n.connected), 30_000)
    const dir = await tmpDir('kappa-target-metric-')
    await writeFile(join(dir, '.kappa-workspace'), '')
    const issued: string[] = []
    const issue = b.tickets.issue.bind(b.tickets)
    b.tickets.issue = (...args: Parameters<typeof issue>) => { const t = issue(...args); if (t.ok) issued.push(t.ticket.id); return t }

    const r = await runJob({ home: a.home } as unknown as TestNode, ['--remote', '--', 'sh', '-c', 'echo ran; exit 3'], { cwd: dir })
    assert.equal(r.code, 3, r.stderr)
    assert.equal(r.stdout.toString(), 'ran\n')
    assert.ok(issued.length > 0, 'the job came with a ticket B issued')
    assert.ok(b.jobs.recent().some(j => j.direction === 'in' && j.exitCode === 3), 'B ran it')
    // at once: the exit reached A after B's metric heard of it
    assert.equal(b.sampler.pending.count(), 0, 'the finished job still counts as pending work on B')
  })
})
