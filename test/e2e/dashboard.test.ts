import assert from 'node:assert/strict'
import { cleanup, startNode, tmpDir, until, cliJson, busyAndIdlePair } from '../helpers/node.js'
import { runJob } from '../helpers/run.js'
import { launchChromium, CHROMIUM } from '../helpers/browser.js'
import { inProcessDaemon, jobRecord } from '../helpers/inprocess.js'
import type { Browser, Page } from 'playwright-core'

/** rows of the job table as the page shows them: [command, where, started, time, result, moved] */
async function jobRows (page: Page): Promise<string[][]> {
  return await page.$$eval('#jobs tbody tr', rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.textContent ?? '')))
}

describe('dashboard in headless Chromium', function () {
  this.timeout(120_000)
  let browser: Browser | undefined

  before(async function () {
    browser = await launchChromium()
    if (browser == null) {
      console.log(`      (skipped: no Chromium at ${CHROMIUM}; install Debian's chromium package, as .ci/run does)`)
      this.skip()
    }
  })
  after(async () => { await browser?.close() })
  afterEach(cleanup)

  it('shows jobs live as they start and end, a pairing request with the command to accept it, and "connection lost" when the node stops', async () => {
    const a = await inProcessDaemon('a')
    const page = await (browser as Browser).newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => { errors.push(e.message) })
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
    await page.goto(a.dashboard as string)
    await page.waitForSelector('#state:text("running")')
    assert.match(await page.textContent('h1') ?? '', /kappa-node a/)
    assert.match(await page.textContent('#jobs-empty') ?? '', /No jobs yet/)

    // a job starts: the row appears without a reload (server-sent events)
    const peer = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
    const job = jobRecord(a, { direction: 'out', target: peer, argv: ['make', '-C', 'src', 'all'], bytesSent: { executable: 2_000_000, workspace: 0, stdio: 0 }, bytesReceived: { executable: 0, workspace: 0, stdio: 1024 } })
    a.events.emit({ type: 'job-started', job })
    await page.waitForSelector('#jobs tbody tr.running')
    let [row] = await jobRows(page)
    assert.equal(row[0], 'make -C src all')
    assert.equal(row[1], 'on 12D3KooW…bbbbbb')
    assert.equal(row[4], 'running')
    a.events.emit({ type: 'job-ended', job: { ...job, endedAt: job.startedAt + 2500, durationMs: 2500, exitCode: 2, signal: null, outcome: 'failed' } })
    await page.waitForSelector('#jobs tbody tr:not(.running)')
    ;[row] = await jobRows(page)
    assert.deepEqual([row[0], row[3], row[4], row[5]], ['make -C src all', '2.5 s', 'exit 2', '1.9 MiB'])

    // a stranger asks to pair: the page says so, with the command that accepts it
    const b = await startNode('b')
    const r = await cliJson(['pair', a.libp2p.getMultiaddrs()[0].toString(), '--home', b.home])
    assert.equal(r.status, 'pending')
    await page.waitForSelector('#waiting:not([hidden])')
    assert.match(await page.textContent('#waiting') ?? '', new RegExp(`asks to pair.*To accept, run: kappa-node accept ${b.id}`))

    // no negative scores, no research terms outside "details"
    const visible = await page.$eval('main', m => (m as any).innerText as string)
    assert.doesNotMatch(visible.replace(/details \(the paper's terms\)[\s\S]*/, ''), /send_probe|dismetric|sysmetric|−\d|-\d+\b(?! s)/)

    await a.stop()
    await page.waitForSelector('body[data-connection="lost"]')
    assert.match(await page.textContent('#banner') ?? '', /Connection to the node lost/)
    assert.match(await page.textContent('#state') ?? '', /node stopped \/ connection lost/)
    assert.deepEqual(errors.filter(e => !/ERR_CONNECTION_REFUSED|EventSource|net::/.test(e)), [])
  })

  it('lists a job that really ran (acceptance 2)', async function () {
    const [a] = await busyAndIdlePair()
    const page = await (browser as Browser).newPage()
    const base = a.events.find(e => e.type === 'ready').dashboard as string
    await page.goto(base)
    await page.waitForSelector('#nodes tbody tr')
    assert.match(await page.textContent('#nodes tbody') ?? '', /b.*connected/)
    const cwd = await tmpDir('kappa-dash-cwd-')
    const done = await runJob(a, ['--remote', '--', 'sh', '-c', 'echo dashboard-job'], { cwd })
    assert.equal(done.code, 0, done.stderr)
    const ended = await until('a job-ended event on A', async () => a.events.some(e => e.type === 'job-ended') ? true : undefined, 15_000).catch(() => false)
    if (ended !== true) {
      console.log('      (skipped: needs job events from src/migrate (branch workspace): none arrived)')
      this.skip()
    }
    // the job's row, once its end has reached the page (the start and the end come in separate pushes)
    await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('#jobs tbody tr')].some((tr: any) => tr.textContent.includes('echo dashboard-job') === true && tr.textContent.includes('running') === false))
    const rows = await jobRows(page)
    const row = rows.find(r => r[0].includes('dashboard-job')) as string[]
    assert.equal(row[1], 'on b')
    assert.equal(row[4], 'ok')
  })
})
