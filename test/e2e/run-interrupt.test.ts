import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { RunFrame, RunFrameParser, encodeJsonFrame, encodeRunFrame } from '../../src/control/frames.js'
import { MAIN, cleanup, onCleanup, tmpDir, until } from '../helpers/node.js'

/**
 * A daemon that starts the job and then says nothing more (a target that
 * sent STARTED and went silent): it records the signal frames the client
 * forwards.
 */
async function silentDaemon (home: string): Promise<{ signals: string[] }> {
  const signals: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    let line = ''
    const parser = new RunFrameParser((type, payload) => { if (type === RunFrame.SIGNAL) signals.push(payload.toString()) })
    socket.on('data', (chunk: Buffer) => {
      if (!line.endsWith('\n')) {
        const text = chunk.toString('latin1')
        const nl = text.indexOf('\n')
        line += nl < 0 ? text : text.slice(0, nl + 1)
        if (nl < 0) return
        socket.write(encodeJsonFrame(RunFrame.STARTED, { target: 'silent', path: [] }))
        socket.write(encodeRunFrame(RunFrame.STDOUT, Buffer.from('started\n')))
        chunk = chunk.subarray(Buffer.byteLength(text.slice(0, nl + 1), 'latin1'))
      }
      parser.push(chunk)
    })
  })
  await new Promise<void>(resolve => server.listen(join(home, 'control.sock'), resolve))
  onCleanup(async () => {
    for (const s of sockets) s.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return { signals }
}

describe('kappa-node run can always be stopped', function () {
  afterEach(cleanup)

  it('the first Ctrl-C goes to the job; a second ends the client at once with 130 and one line', async () => {
    const home = await tmpDir()
    const daemon = await silentDaemon(home)
    const proc = spawn(process.execPath, [MAIN, 'run', '--home', home, '--', 'sleep', '1000'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KAPPA_HOME: undefined } })
    onCleanup(async () => { if (proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL') })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d) => { stdout += String(d) })
    proc.stderr.on('data', (d) => { stderr += String(d) })
    const exited = new Promise<number | null>(resolve => proc.once('exit', (code) => { resolve(code) }))
    // the client has taken STARTED when it writes what came after it
    await until('the job to have started', async () => stdout === 'started\n')

    proc.kill('SIGINT')
    await until('the first Ctrl-C to reach the daemon', async () => daemon.signals.length === 1)
    assert.deepEqual(daemon.signals, ['SIGINT'])
    assert.equal(proc.exitCode, null, 'one Ctrl-C is the job\'s to answer')

    proc.kill('SIGINT')
    assert.equal(await exited, 130)
    assert.equal(stderr.trim().split('\n').length, 1)
    assert.match(stderr, /interrupted again/)
    assert.deepEqual(daemon.signals, ['SIGINT'], 'the second is not forwarded')
  })
})
