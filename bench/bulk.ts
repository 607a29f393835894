/**
 * bench/bulk: MB/s and CPU per GB of one bulk connection between two
 * processes on 127.0.0.1 (no job, no libp2p): src/bulk's AES-256-GCM
 * records against TLS 1.3 with a PSK through node:tls, alternating run by
 * run so a slow phase of the machine hits both alike. Issue 11 asked for TLS
 * if it is at least as fast; in Node it was not (bench/results/bulk.md).
 *
 * `BULK_MIB` (default 512) MiB per transfer, `RUNS` (default 5) of each.
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { REPO } from '../test/helpers/node.js'
import { fmt, percentile } from './lib/stats.js'
import { DAEMON_NODE_FLAGS } from '../src/constants.js'

const BYTES = Number(process.env.BULK_MIB ?? 512) * 1024 * 1024
const RUNS = Number(process.env.RUNS ?? 5)
const SCRIPT = join(REPO, 'dist/bench/lib/bulk-transfer.js')

interface Transfer { rate: number, senderCpu: number, receiverCpu: number }

async function transfer (impl: string): Promise<Transfer> {
  const server = spawn(process.execPath, [...DAEMON_NODE_FLAGS, SCRIPT, 'serve', impl, String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const lines: string[] = []
    let waiting: (() => void) | undefined
    createInterface({ input: server.stdout }).on('line', (line) => { lines.push(line); waiting?.() })
    const line = async (n: number): Promise<string> => {
      while (lines.length <= n) {
        await new Promise<void>((resolve, reject) => {
          waiting = resolve
          server.once('exit', (code) => { if (lines.length <= n) reject(new Error(`${impl} server exited ${String(code)}`)) })
        })
      }
      return lines[n]
    }
    const offer = await line(0)
    const client = spawn(process.execPath, [...DAEMON_NODE_FLAGS, SCRIPT, 'fetch', impl, offer], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    client.stdout.on('data', (d: Buffer) => { out += String(d) })
    const code = await new Promise(resolve => client.once('close', resolve))
    const [rate, receiverCpu] = out.trim().split(' ').map(Number)
    if (code !== 0 || !Number.isFinite(rate)) throw new Error(`${impl} transfer failed (exit ${String(code)})`)
    return { rate, receiverCpu, senderCpu: Number(await line(1)) }
  } finally {
    server.kill()
  }
}

async function main (): Promise<void> {
  const impls = ['records', 'tls']
  const runs: Record<string, Transfer[]> = { records: [], tls: [] }
  for (let i = 0; i < RUNS; i++) {
    // alternate which goes first
    for (const impl of i % 2 === 0 ? impls : [...impls].reverse()) runs[impl].push(await transfer(impl))
    process.stderr.write(`  run ${i + 1}/${RUNS}: ${impls.map(k => `${k} ${fmt(runs[k][i].rate, 0)} MB/s (cpu ${fmt(runs[k][i].senderCpu, 2)} + ${fmt(runs[k][i].receiverCpu, 2)} s)`).join(', ')}\n`)
  }
  const gb = BYTES / 1e9
  const med = (k: string, f: (t: Transfer) => number): number => percentile(runs[k].map(f), 0.5)
  const rate = (k: string): number => med(k, t => t.rate)
  const row = (label: string, k: string): string =>
    `| ${label} | ${fmt(rate(k), 0)} | ${fmt(Math.min(...runs[k].map(t => t.rate)), 0)}–${fmt(Math.max(...runs[k].map(t => t.rate)), 0)} | ${fmt(med(k, t => t.senderCpu / gb), 2)} | ${fmt(med(k, t => t.receiverCpu / gb), 2)} |`
  const ratio = rate('tls') / rate('records')
  const cpuRatio = med('tls', t => t.senderCpu + t.receiverCpu) / med('records', t => t.senderCpu + t.receiverCpu)
  const lines = [
    `# bench/bulk — ${new Date().toISOString()}`,
    '',
    `Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(1)} at the end; ${BYTES / 1024 / 1024} MiB in 256 KiB frames from one process to another on 127.0.0.1 (both with the daemons' Node flags), ${RUNS} runs of each, alternating (\`npm run bench:bulk\`).`,
    '',
    '| bulk connection | MB/s (median) | range | sender CPU s/GB | receiver CPU s/GB |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('AES-256-GCM records, keyed per direction, end record (src/bulk)', 'records'),
    row('TLS 1.3 through node:tls, PSK, TLS_AES_128_GCM_SHA256 (bench/lib/bulk-transfer.ts)', 'tls'),
    '',
    `TLS / records: ${fmt(ratio, 2)}× the throughput, ${fmt(cpuRatio, 2)}× the CPU per byte (both ends).`,
    ''
  ]
  process.stdout.write(lines.join('\n'))
  await mkdir(join(REPO, 'bench/results'), { recursive: true })
  await writeFile(join(REPO, 'bench/results/bulk.md'), lines.join('\n'))
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
