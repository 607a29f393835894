#!/usr/bin/env node
/**
 * `npm run screenshots`: the dashboard pictures in docs/ (idle, jobs
 * running, node lost), taken in headless Chromium from three real nodes on
 * 127.0.0.1 (in this process, temporary homes).
 *
 * The jobs on the pictures are put on node A's event bus here, as
 * src/migrate reports jobs (`job-started` / `job-ended`): the dashboard
 * shows exactly what those events carry. Once src/migrate emits them for
 * real jobs, `kappa-node run` jobs appear the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFile } from 'node:child_process'
import { startDaemon, type Daemon } from '../src/daemon/index.js'
import type { JobRecord } from '../src/events.js'

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url))
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const CHROMIUM = process.env.KAPPA_CHROMIUM ?? '/usr/bin/chromium'
const quiet = { write: () => true } as unknown as NodeJS.WritableStream

async function cli (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], (err, stdout, stderr) => { if (err != null) reject(new Error(stderr)); else resolve(stdout) })
  })
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'kappa-shots-'))
  const daemons: Daemon[] = []
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  try {
    const node = async (name: string, extra: Record<string, unknown>): Promise<Daemon> => {
      const d = await startDaemon({ home: join(root, name), listen: ['/ip4/127.0.0.1/tcp/0'], alias: name, mdns: false, json: true, logTo: quiet, delayMs: 500, ...extra })
      daemons.push(d)
      return d
    }
    const a = await node('desk', { http: '127.0.0.1:0' })
    const b = await node('laptop', { http: false, metricOverride: 120 })
    const c = await node('server', { http: false, metricOverride: 160 })
    const stranger = await node('guest', { http: false, metricOverride: 90 })
    for (const other of [b, c]) {
      const { invite } = JSON.parse(await cli(['invite', '--home', other.home, '--json']))
      await cli(['pair', invite, '--home', a.home, '--json'])
    }
    await cli(['pair', a.libp2p.getMultiaddrs()[0].toString(), '--home', stranger.home, '--json'])
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    await page.goto(a.dashboard as string)
    // the benchmark has run and both neighbours have gossiped
    await page.waitForFunction(() => { const d = (globalThis as any).document; return d.querySelectorAll('#nodes tbody tr:not(.off)').length === 2 && d.querySelector('#state')?.textContent === 'running' }, undefined, { timeout: 120_000 })
    await page.waitForTimeout(1500)
    await page.screenshot({ path: join(DOCS, 'dashboard-idle.png'), fullPage: true })

    const self = a.libp2p.peerId.toString()
    const now = Date.now()
    let n = 0
    const job = (extra: Partial<JobRecord>): JobRecord => ({
      id: `shot-${++n}`, direction: 'out', origin: self, target: c.libp2p.peerId.toString(), argv: ['cc'], startedAt: now,
      bytesSent: { executable: 0, workspace: 0, stdio: 0 }, bytesReceived: { executable: 0, workspace: 0, stdio: 0 }, ...extra
    })
    const ended = (j: JobRecord, ms: number, extra: Partial<JobRecord>): JobRecord => ({ ...j, endedAt: j.startedAt + ms, durationMs: ms, ...extra })
    const history = [
      ended(job({ argv: ['ffmpeg', '-i', 'talk.mkv', '-c:v', 'libx264', 'talk.mp4'], startedAt: now - 300_000, bytesSent: { executable: 0, workspace: 310_000_000, stdio: 0 }, bytesReceived: { executable: 0, workspace: 96_000_000, stdio: 4_000 }, path: 'bulk', cached: true }), 131_000, { exitCode: 0, outcome: 'ok' }),
      ended(job({ argv: ['make', 'check'], direction: 'local', target: self, startedAt: now - 200_000 }), 12_400, { exitCode: 2, outcome: 'failed' }),
      ended(job({ argv: ['cc', '-O2', '-c', 'parser.c'], target: b.libp2p.peerId.toString(), startedAt: now - 90_000, bytesSent: { executable: 1_400_000, workspace: 52_000, stdio: 0 }, bytesReceived: { executable: 0, workspace: 61_000, stdio: 0 } }), 2_300, { exitCode: 0, outcome: 'ok' }),
      ended(job({ argv: ['python3', 'train.py'], direction: 'in', origin: b.libp2p.peerId.toString(), target: self, startedAt: now - 60_000, bytesReceived: { executable: 0, workspace: 2_100_000, stdio: 0 }, bytesSent: { executable: 0, workspace: 0, stdio: 18_000 } }), 41_000, { exitCode: null, signal: 'SIGTERM', outcome: 'signal' }),
      ended(job({ argv: ['cc', '-O2', '-c', 'lexer.c'], startedAt: now - 30_000, bytesSent: { executable: 0, workspace: 40_000, stdio: 0 } }), 900, { outcome: 'fell-back', exitCode: 0, reason: 'server stopped answering before the job started' })
    ]
    for (const j of history) a.events.emit({ type: 'job-ended', job: j })
    for (const j of [
      job({ argv: ['cc', '-O2', '-c', 'codegen.c'], startedAt: now - 4_000, bytesSent: { executable: 0, workspace: 88_000, stdio: 0 }, cached: true }),
      job({ argv: ['cc', '-O2', '-c', 'optimize.c'], target: b.libp2p.peerId.toString(), startedAt: now - 3_000 }),
      job({ argv: ['blender', '-b', 'scene.blend', '-f', '12'], direction: 'in', origin: c.libp2p.peerId.toString(), target: self, startedAt: now - 75_000 }),
      job({ argv: ['sort', '-S', '1G', 'words.txt'], direction: 'local', target: self, startedAt: now - 1_000 })
    ]) a.events.emit({ type: 'job-started', job: j })
    await page.waitForSelector('#jobs tbody tr.running')
    await page.waitForTimeout(2500)
    await page.screenshot({ path: join(DOCS, 'dashboard-jobs.png'), fullPage: true })

    // a neighbour goes away, then the node itself stops
    await b.stop()
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#nodes tbody')?.textContent?.includes('not connected') === true, undefined, { timeout: 60_000 })
    await a.stop()
    await page.waitForSelector('body[data-connection="lost"]')
    await page.screenshot({ path: join(DOCS, 'dashboard-lost.png'), fullPage: true })
    process.stdout.write(`screenshots in ${DOCS}: dashboard-idle.png, dashboard-jobs.png, dashboard-lost.png\n`)
  } finally {
    await browser.close()
    for (const d of daemons) await d.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

main().catch((err) => {
  process.stderr.write(`screenshots: ${(err as Error).message}\n`)
  process.exitCode = 1
})
