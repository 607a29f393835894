import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { tightenHome } from '../../src/home/index.js'
import { createEventLog, redactInvites } from '../../src/daemon/log.js'
import { DAEMON_NODE_FLAGS } from '../../src/constants.js'
import { MAIN, startNode, cleanup, tmpDir, onCleanup } from '../helpers/node.js'

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777

/** An existing home that others can enter, with a key others can read. */
async function looseHome (): Promise<string> {
  const home = join(await tmpDir(), 'home')
  await mkdir(home)
  await chmod(home, 0o755)
  await writeFile(join(home, 'identity.key'), privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  await chmod(join(home, 'identity.key'), 0o644)
  return home
}

/** `kappa-node start` (no --json) with its stdout a pipe, or a terminal (script(1) gives it a pty); its output until the banner's last line. */
async function banner (home: string, terminal: boolean): Promise<string> {
  const args = [...DAEMON_NODE_FLAGS, MAIN, 'start', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-http']
  const quoted = [process.execPath, ...args].map(a => `'${a}'`).join(' ')
  const proc = terminal
    ? spawn('script', ['-qfec', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  onCleanup(async () => {
    if (proc.exitCode != null) return
    // script(1) passes the signal on to the daemon through the pty's session
    proc.kill('SIGTERM')
    await new Promise(resolve => proc.once('exit', resolve))
  })
  let out = ''
  const sink = new PassThrough()
  proc.stdout?.pipe(sink)
  return await new Promise((resolve, reject) => {
    sink.on('data', (d) => {
      out += String(d)
      // the banner's last line: the invite on a terminal, the hint to run `invite` otherwise
      if (/kappa-node pair '[^\n]*\n|run `kappa-node invite` here[^\n]*\n/.test(out)) resolve(out)
    })
    proc.once('exit', (code) => { reject(new Error(`start exited ${String(code)}: ${out}`)) })
  })
}

describe('start: a private home, and no live secret in what the daemon writes', function () {
  afterEach(cleanup)

  it('tightens an existing home to 0700 and its key to 0600, one line each; a private home is left alone', async () => {
    const home = await looseHome()
    const lines = await tightenHome(home)
    assert.equal(lines.length, 2)
    assert.match(lines[0], /home was mode 0755: changed to 0700/)
    assert.match(lines[1], /identity\.key was mode 0644: changed to 0600/)
    assert.equal(await modeOf(home), 0o700)
    assert.equal(await modeOf(join(home, 'identity.key')), 0o600)
    assert.deepEqual(await tightenHome(home), [])
    // stricter than asked is fine
    await chmod(home, 0o500)
    assert.deepEqual(await tightenHome(home), [])
    await chmod(home, 0o700)
  })

  it('a daemon started on a loose home says what it changed', async () => {
    const home = await looseHome()
    const node = await startNode('a', { home })
    const warnings = node.events.filter(e => e.type === 'warning' && / was mode /.test(e.message))
    assert.equal(warnings.length, 2, JSON.stringify(node.events))
    assert.equal(await modeOf(home), 0o700)
    assert.equal(await modeOf(join(home, 'identity.key')), 0o600)
  })

  it('the banner shows an invite on a terminal only; --json output never holds one', async () => {
    const piped = await banner(join(await tmpDir(), 'piped'), false)
    assert.doesNotMatch(piped, /kappa:/)
    assert.match(piped, /run `kappa-node invite` here/)

    const shown = await banner(join(await tmpDir(), 'tty'), true)
    assert.match(shown, /kappa-node pair 'kappa:[A-Za-z0-9_-]{16,}@\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)

    const node = await startNode('j')
    await node.json(['invite'])
    assert.equal(node.events.some(e => JSON.stringify(e).includes('kappa:')), false, 'no event carries an invite')
  })

  it('the event log blanks an invite token whatever event carries it', () => {
    const invite = 'kappa:AbCdEfGhIjKlMnOpQrStUv@/ip4/10.0.0.1/tcp/4747/p2p/12D3KooWGzBsgByKPTBZ8XzRxEdMHuT8R1ZJ6ha3s2mrxnxvT7qb'
    assert.equal(redactInvites(`pair failed: '${invite}'`), "pair failed: 'kappa:…@/ip4/10.0.0.1/tcp/4747/p2p/12D3KooWGzBsgByKPTBZ8XzRxEdMHuT8R1ZJ6ha3s2mrxnxvT7qb'")
    for (const json of [false, true]) {
      const out = new PassThrough()
      let text = ''
      out.on('data', (d) => { text += String(d) })
      createEventLog({ json, out, journald: false }).emit({ type: 'warning', message: `cannot use ${invite}` })
      assert.doesNotMatch(text, /AbCdEfGh/)
      assert.match(text, /kappa:…@\/ip4/)
    }
  })
})
