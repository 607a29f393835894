/**
 * bench/throughput: MB/s of a program's stdout through `kappa-node run`
 * (placed remote), through ssh (ControlMaster, loopback), and through a local
 * pipe, in the same run. Target (issue 5): kappa ≥ 1.0 × ssh.
 */
import { spawn } from 'node:child_process'
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO } from '../test/helpers/node.js'
import { withKappaAndSsh } from './lib/loopback.js'
import { percentile, fmt } from './lib/stats.js'

const BYTES = Number(process.env.BYTES ?? 1_000_000_000)
const RUNS = Number(process.env.RUNS ?? 3)

/** The transport alone: a server process sends BYTES on one stream, a client process counts them. */
async function rawStream (): Promise<number> {
  const script = join(REPO, 'dist/bench/lib/raw-stream.js')
  const server = spawn(process.execPath, [script, 'serve', String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      server.stdout.once('data', (d: Buffer) => { resolve(d.toString().trim()) })
      server.once('exit', (code) => { reject(new Error(`raw stream server exited ${code}`)) })
    })
    const client = spawn(process.execPath, [script, 'fetch', addr], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    client.stdout.on('data', (d: Buffer) => { out += String(d) })
    await new Promise(resolve => client.once('close', resolve))
    return Number(out)
  } finally {
    server.kill()
  }
}

/** Run `cmd` and count its stdout bytes; returns MB/s. */
async function measure (cmd: string, args: string[], cwd?: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] })
    let n = 0
    child.stdout.on('data', (d: Buffer) => { n += d.length })
    child.on('close', (code) => {
      const s = Number(process.hrtime.bigint() - start) / 1e9
      if (code !== 0 || n !== BYTES) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}, ${n} bytes`))
      else resolve(BYTES / 1e6 / s)
    })
  })
}

async function series (name: string, fn: () => Promise<number>): Promise<number[]> {
  const rates: number[] = []
  for (let i = 0; i < RUNS; i++) rates.push(await fn())
  process.stderr.write(`  ${name}: ${rates.map(r => fmt(r, 0)).join(', ')} MB/s\n`)
  return rates
}

async function main (): Promise<void> {
  await withKappaAndSsh(async ({ a, cwd, launcher, sshd }) => {
    const produce = ['head', '-c', String(BYTES), '/dev/zero']
    const kappa = await series('kappa run (remote)', async () => await measure(launcher, ['run', '--home', a.home, '--remote', '--', ...produce], cwd))
    const ssh = await series('ssh (ControlMaster)', async () => await measure('ssh', [...sshd.sshArgs, produce.join(' ')]))
    const pipe = await series('local pipe', async () => await measure(produce[0], produce.slice(1)))
    const raw = await series('one raw libp2p stream', async () => await rawStream())
    const med = (r: number[]): number => percentile(r, 0.5)
    const lines = [
      `# bench/throughput — ${new Date().toISOString()}`,
      '',
      `Machine: ${(await import('node:os')).cpus()[0]?.model ?? '?'}, ${(await import('node:os')).cpus().length} cores; ${BYTES / 1e6} MB of stdout (head -c … /dev/zero), median of ${RUNS} runs; kappa daemons and sshd on 127.0.0.1.`,
      '',
      '| path | MB/s (median) | ratio to ssh |',
      '| --- | ---: | ---: |',
      `| kappa-node run (placed on B) | ${fmt(med(kappa), 0)} | ${fmt(med(kappa) / med(ssh), 2)} |`,
      `| ssh -o ControlPath=… | ${fmt(med(ssh), 0)} | 1.00 |`,
      `| local pipe | ${fmt(med(pipe), 0)} | ${fmt(med(pipe) / med(ssh), 2)} |`,
      `| one raw libp2p stream (TCP + Noise + Yamux, 256 KiB writes, no job) | ${fmt(med(raw), 0)} | ${fmt(med(raw) / med(ssh), 2)} |`,
      '',
      `Target: kappa ≥ 1.0 × ssh → ${med(kappa) >= med(ssh) ? 'met' : 'not met'}.`,
      ''
    ]
    process.stdout.write(lines.join('\n'))
    await mkdir(join(REPO, 'bench/results'), { recursive: true })
    await writeFile(join(REPO, 'bench/results/throughput.md'), lines.join('\n'))
  })
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
