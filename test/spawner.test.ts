import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { cleanup, onCleanup, tmpDir } from './helpers/node.js'
import type { Socket } from 'node:net'
import { JobSpawner, type JobChild } from '../src/migrate/spawner.js'
import { socketPair } from '../src/migrate/output.js'

const ENV = { PATH: '/usr/bin:/bin' }

describe('job spawner (sandboxes forked from a small helper, not the daemon)', () => {
  let spawner: JobSpawner
  let dir: string
  beforeEach(async () => {
    spawner = new JobSpawner()
    onCleanup(async () => { spawner.close() })
    dir = await tmpDir('kappa-spawner-')
  })
  afterEach(cleanup)

  /** Starts `sh -c script` with socket pairs for stdio; what it wrote, and how it ended. */
  async function start (script: string, umask = 0o022): Promise<{ child: JobChild, stdin: Socket, out: Promise<string>, ended: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }> {
    const [i, o, e] = await Promise.all([socketPair(dir, 'in.sock'), socketPair(dir, 'out.sock'), socketPair(dir, 'err.sock')])
    const child = await spawner.spawn('/bin/sh', ['-c', script], { cwd: dir, env: ENV, umask, stdio: [i.theirs, o.theirs, e.theirs] })
    for (const p of [i, o, e]) p.theirs.destroy()
    const ended = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
    const out = new Promise<string>((resolve) => {
      let text = ''
      o.ours.on('data', (d: Buffer) => { text += d.toString() })
      o.ours.on('end', () => { resolve(text) })
      o.ours.resume()
    })
    e.ours.resume()
    return { child, stdin: i.ours, out, ended }
  }

  it('stdin, stdout, the exit status and the umask reach the job as with a direct spawn, and its parent is the helper', async () => {
    const job = await start('umask; echo "parent $PPID"; cat; exit 3', 0o027)
    job.stdin.end('through stdin\n')
    const out = await job.out
    assert.deepEqual(await job.ended, { code: 3, signal: null })
    const [umask, parent, piped] = out.trim().split('\n')
    assert.equal(umask, '0027')
    assert.notEqual(Number(parent.split(' ')[1]), process.pid)
    assert.equal(piped, 'through stdin')
  })

  it('a job that exits at once is never missed (its start and end can arrive in one read)', async () => {
    for (let i = 0; i < 20; i++) {
      const job = await start('exit 0')
      assert.deepEqual(await job.ended, { code: 0, signal: null })
    }
  })

  it('a signal to the job\'s process group ends it with that signal', async () => {
    const job = await start('exec sleep 30')
    assert.ok(job.child.pid != null)
    process.kill(-job.child.pid, 'SIGTERM')
    assert.deepEqual(await job.ended, { code: null, signal: 'SIGTERM' })
  })

  it('a helper killed under a running job: the job is reported killed, and the next spawn gets a new helper', async () => {
    const job = await start('echo "parent $PPID"; exec sleep 30')
    // the job's parent (the helper), read from the kernel
    const ppid = Number(readFileSync(`/proc/${job.child.pid as number}/stat`, 'utf8').split(') ')[1].split(' ')[1])
    process.kill(ppid, 'SIGKILL')
    assert.deepEqual(await job.ended, { code: null, signal: 'SIGKILL' })
    try { process.kill(-(job.child.pid as number), 'SIGKILL') } catch { /* gone already */ }
    const next = await start('exit 7')
    assert.deepEqual(await next.ended, { code: 7, signal: null })
  })
})
