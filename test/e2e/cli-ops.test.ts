import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { MAIN, REPO, cleanup, cleanupKept, cli, pairNodes, sharedNodes, startNode, tmpDir, until } from '../helpers/node.js'
import { DAEMON_NODE_FLAGS } from '../../src/constants.js'
import { resolveSettings, START_SETTINGS, envName, readConfigFile } from '../../src/cli/config.js'
import { createEventLog, underJournald } from '../../src/daemon/log.js'
import { createProgressLine, progressText } from '../../src/progress.js'
import { table } from '../../src/cli/table.js'

describe('operating kappa-node: versions, exit codes, settings, logs, tables, completion', function () {
  this.timeout(120_000)
  afterEach(cleanup)
  after(cleanupKept)
  /** A paired with a peer of a long alias (for the tables) and with desk (for completion) */
  const paired = sharedNodes(async () => {
    const [a, long, desk] = await Promise.all([startNode('a'), startNode('b-with-a-rather-long-alias-for-a-node'), startNode('desk')])
    await pairNodes(a, long)
    await pairNodes(a, desk)
    return [a, long, desk]
  })

  it('--version is package.json\'s; a usage error exits 2, an expected failure 1', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
    const v = await cli(['--version'])
    assert.equal(v.code, 0)
    assert.equal(v.stdout.trim(), pkg.version)
    for (const args of [['--bogus'], ['status', '--nope'], ['start', '--delay', 'soon'], ['pair'], ['completion', 'tcsh'], ['jobs', '--limit', '-3']]) {
      const r = await cli(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.ok(r.stderr.trim().split('\n').length <= 3, r.stderr)
    }
    const home = await tmpDir()
    const r = await cli(['status', '--home', home])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /the node is not running/)
  })

  it('start settings: flag over KAPPA_* variable over config.toml over the default', async () => {
    const file = { alias: 'from-file', maxJobs: 3, mdns: false, listen: ['/ip4/1.2.3.4/tcp/1'] }
    const env = { KAPPA_ALIAS: 'from-env', KAPPA_LISTEN: '/ip4/127.0.0.1/tcp/0, /ip6/::1/tcp/0', KAPPA_HTTP: 'off', KAPPA_SANDBOX: '0' }
    const cliOpts = { alias: 'from-flag', mdns: true, maxJobs: undefined }
    const source = (key: string): string | undefined => key === 'alias' ? 'cli' : key === 'mdns' ? 'default' : undefined
    const r = resolveSettings(cliOpts, source, env, file)
    assert.equal(r.alias, 'from-flag')
    assert.deepEqual(r.listen, ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'])
    assert.equal(r.maxJobs, 3)
    assert.equal(r.mdns, false, 'the file beats a default')
    assert.equal(r.http, false)
    assert.equal(r.sandbox, false)
    assert.throws(() => resolveSettings({}, () => undefined, { KAPPA_MDNS: 'maybe' }, {}), /KAPPA_MDNS must be true or false/)
    assert.throws(() => resolveSettings({}, () => undefined, { KAPPA_MAX_JOBS: '-1' }, {}), /KAPPA_MAX_JOBS must be a non-negative whole number/)
    for (const s of START_SETTINGS) assert.match(envName(s), /^KAPPA_[A-Z_]+$/)
    const dir = await tmpDir()
    await writeFile(join(dir, 'config.toml'), 'max-jobs = 2\nmaxjobs = 3\n')
    await assert.rejects(readConfigFile(join(dir, 'config.toml')), /unknown setting 'maxjobs'/)
    await writeFile(join(dir, 'config.toml'), 'max-jobs = \n')
    await assert.rejects(readConfigFile(join(dir, 'config.toml')), (err: any) => err.exitCode === 2)
  })

  it('a real start reads config.toml and KAPPA_* (flags win), logs dated, levelled lines and a stop line', async () => {
    const home = await tmpDir()
    await writeFile(join(home, 'config.toml'), 'alias = "from-file"\nhttp = false\nmdns = false\nlisten = "/ip4/127.0.0.1/tcp/0"\nmetric-override = 50\n')
    const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, MAIN, 'start', '--home', home], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAPPA_HOME: undefined, KAPPA_METRIC_OVERRIDE: '60', JOURNAL_STREAM: undefined } })
    const lines: string[] = []
    createInterface({ input: proc.stdout }).on('line', (l) => { lines.push(l) })
    try {
      await until('the banner', async () => lines.some(l => l.startsWith('to pair another machine')) ? true : undefined, 30_000)
      const id = JSON.parse((await cli(['id', '--home', home, '--json'])).stdout)
      assert.equal(id.alias, 'from-file')
      const status = JSON.parse((await cli(['status', '--home', home, '--json'])).stdout)
      assert.equal(status.sysmetric, 60, 'the variable beats the file')
      assert.ok(!lines.some(l => /dashboard http/.test(l)), 'http = false in the file')
    } finally {
      proc.kill('SIGTERM')
      await new Promise(resolve => proc.once('exit', resolve))
    }
    const logged = lines.filter(l => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARN) {2}/.test(l))
    assert.ok(logged.some(l => / INFO {2}stopping \(SIGTERM\)$/.test(l)), lines.join('\n'))
    assert.ok(logged.some(l => / INFO {2}stopped$/.test(l)), lines.join('\n'))
  })

  it('under journald: no date, the level as a syslog priority; JOURNAL_STREAM must name our own stdout', () => {
    const out: string[] = []
    const log = createEventLog({ json: false, journald: true, out: { write: (s: string) => { out.push(s); return true } } as any })
    log.emit({ type: 'info', message: 'hello' })
    log.emit({ type: 'warning', message: 'careful' })
    assert.deepEqual(out, ['<6>hello\n', '<4>careful\n'])
    assert.equal(underJournald({ JOURNAL_STREAM: '1:2' }), false, 'another stream: not ours')
    assert.equal(underJournald({}), false)
  })

  it('log lines wait while a question is open, and a progress line is cleared before each', () => {
    const out: string[] = []
    const log = createEventLog({ json: false, journald: false, now: () => new Date(2026, 11, 2, 14, 3, 1), out: { write: (s: string) => { out.push(s); return true } } as any })
    let cleared = 0
    log.beforeWrite(() => { cleared++ })
    log.hold()
    log.emit({ type: 'connected', id: '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', alias: 'b' })
    assert.deepEqual(out, [])
    log.release()
    assert.deepEqual(out, ['2026-12-02 14:03:01 INFO  connected to b (12D3KooW…bbbbbb)\n'])
    assert.equal(cleared, 1)
  })

  it('tables fit 80 columns (the flexible columns are cut), --wide prints them whole', async () => {
    const rows = [['desk', '12D3KooW…bbbbbb', 'yes', '/ip6/fe80::1234:5678:9abc:def0/tcp/4747/p2p/12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb']]
    const cols = [{ header: 'ALIAS', flex: true }, { header: 'PEER ID' }, { header: 'CONNECTED' }, { header: 'ADDRESS', flex: true }]
    for (const line of table(cols, rows).split('\n')) assert.ok(line.length <= 80, line)
    assert.ok(table(cols, rows, null).split('\n')[1].length > 80)

    const [a, b] = await paired.get()
    for (const args of [['peers'], ['status'], ['jobs'], ['requests'], ['discover']]) {
      const r = await a.cli(args)
      assert.equal(r.code, 0, r.stderr)
      for (const line of r.stdout.split('\n')) {
        if (/^ {2}kappa-node (pair|accept) /.test(line)) continue // a command to copy, not a table row
        assert.ok(line.length <= 80, `${args[0]}: ${line.length} columns: ${line}`)
      }
    }
    const wide = await a.cli(['peers', '--wide'])
    assert.ok(wide.stdout.includes(b.id), 'full id with --wide')
  })

  it('a reader that goes away (| head, | true) ends the command quietly with its own status, no stack trace', async () => {
    // `true` is gone before Node has started, so the first write meets a closed pipe
    const r = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
      execFile('bash', ['-c', `set -o pipefail; "${process.execPath}" "${MAIN}" completion bash | true`], (err, _stdout, stderr) => {
        resolve({ code: err == null ? 0 : (err as any).code, stderr })
      })
    })
    assert.equal(r.stderr, '')
    assert.equal(r.code, 0)
  })

  it('completion: bash completes commands, options and paired peers', async () => {
    const [a] = await paired.get()
    const script = (await cli(['completion', 'bash'])).stdout
    const dir = await tmpDir()
    await writeFile(join(dir, 'kappa-node'), `#!/bin/sh\nexec ${process.execPath} ${MAIN} "$@"\n`, { mode: 0o755 })
    const complete = async (...words: string[]): Promise<string[]> => await new Promise((resolve, reject) => {
      const program = `${script}\nCOMP_WORDS=(${words.map(w => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kappa_node; printf '%s\\n' "\${COMPREPLY[@]}"`
      execFile('bash', ['-c', program], { env: { PATH: `${dir}:${process.env.PATH ?? ''}`, KAPPA_HOME: a.home } }, (err, stdout, stderr) => {
        if (err != null) reject(new Error(stderr)); else resolve(stdout.split('\n').filter(l => l !== ''))
      })
    })
    assert.deepEqual(await complete('kappa-node', 'jo'), ['jobs'])
    assert.ok((await complete('kappa-node', 'start', '--max')).includes('--max-jobs'))
    assert.ok((await complete('kappa-node', 'jobs', '--')).includes('--follow'))
    assert.deepEqual(await complete('kappa-node', 'unpair', 'de'), ['desk'])
    assert.match((await cli(['completion', 'fish'])).stdout, /complete -c kappa-node -n '__fish_seen_subcommand_from start' -l max-jobs/)
    assert.match((await cli(['completion', 'zsh'])).stdout, /bashcompinit/)
  })

  it('progress lines: only on a terminal, redrawn in place, with sizes and a rate for transfers', () => {
    assert.equal(progressText('sending input', 'bytes', 120 * 2 ** 20, 300 * 2 ** 20, 2000), 'sending input  120 MiB of 300 MiB  40 %  62.9 MB/s')
    assert.equal(progressText('benchmarking the CPU', 'steps', 12, 60, 100), 'benchmarking the CPU  12/60  20 %')
    const piped: string[] = []
    const quiet = createProgressLine({ write: (s: string) => { piped.push(s) }, isTTY: false }, { label: 'x' })
    quiet.update(1, 2); quiet.done()
    assert.deepEqual(piped, [], 'nothing when not a terminal')
    const tty: string[] = []
    let t = 0
    const line = createProgressLine({ write: (s: string) => { tty.push(s) }, isTTY: true, columns: 80 }, { label: 'x', unit: 'steps', now: () => t })
    line.update(1, 4); t += 10; line.update(2, 4); t += 200; line.update(3, 4); line.update(4, 4); line.done('done')
    assert.deepEqual(tty, ['\r\x1b[Kx  1/4  25 %', '\r\x1b[Kx  3/4  75 %', '\r\x1b[Kx  4/4  100 %', '\r\x1b[K', 'done\n'], 'throttled, the last step always drawn, cleared at the end')
  })

  it('SIGHUP and metric --rebench measure the CPU again on the running node', async () => {
    const a = await startNode('a')
    const first = await until('a first score', async () => (await a.json(['status'])).metric?.benchmarkMeasuredAt as string | undefined, 60_000, 200)
    a.proc.kill('SIGHUP')
    await a.waitForEvent(e => e.type === 'info' && /measuring the CPU again/.test(e.message))
    await until('a new score', async () => (await a.json(['status'])).metric?.benchmarkMeasuredAt !== first ? true : undefined, 60_000, 200)
    const r = JSON.parse((await cli(['metric', '--rebench', '--json', '--home', a.home], {}, 90_000)).stdout)
    assert.ok(r.static > 0)
    assert.notEqual(r.measuredAt, first)
    const status = await a.json(['status'])
    assert.equal(status.metric.benchmarkMeasuredAt, r.measuredAt, 'the node uses the score it just measured')
  })
})
