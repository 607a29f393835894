/**
 * bench/throughput: MB/s of a program's stdout through `kappa-node run`
 * (placed remote), through ssh (ControlMaster, loopback), and through a local
 * pipe, in the same run. Two readers: a shell pipeline (`… | wc -c`, what a
 * user types) and a program that spawned the command and reads its stdout
 * (here this Node process, whose child's stdout is a socket). Runs alternate
 * between the paths so a slow phase of the machine hits them alike.
 * Target (issue 5): kappa ≥ 1.0 × ssh.
 */
import { spawn } from 'node:child_process'
import { writeFile, mkdir } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { REPO } from '../test/helpers/node.js'
import { withKappaAndSsh } from './lib/loopback.js'
import { percentile, fmt } from './lib/stats.js'

const BYTES = Number(process.env.BYTES ?? 1_000_000_000)
const RUNS = Number(process.env.RUNS ?? 5)

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

/** Run `cmd` and count its stdout bytes here (its stdout is a socket); returns MB/s. */
async function readHere (cmd: string, args: string[], cwd?: string): Promise<number> {
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

/** Run `producer | wc -c` in a shell; returns MB/s. */
async function shellPipe (producer: string, cwd?: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn('sh', ['-c', `${producer} | wc -c`], { cwd, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += String(d) })
    child.on('close', (code) => {
      const s = Number(process.hrtime.bigint() - start) / 1e9
      if (code !== 0 || Number(out.trim()) !== BYTES) reject(new Error(`${producer} | wc -c: exit ${code}, ${out.trim()} bytes`))
      else resolve(BYTES / 1e6 / s)
    })
  })
}

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

async function main (): Promise<void> {
  await withKappaAndSsh(async ({ a, cwd, launcher, sshd }) => {
    const produce = ['head', '-c', String(BYTES), '/dev/zero']
    const kappaArgs = ['run', '--home', a.home, '--remote', '--', ...produce]
    const paths: Record<string, () => Promise<number>> = {
      'kappa | wc': async () => await shellPipe([launcher, ...kappaArgs].map(quote).join(' '), cwd),
      'ssh | wc': async () => await shellPipe(['ssh', ...sshd.sshArgs, produce.join(' ')].map(quote).join(' ')),
      'local | wc': async () => await shellPipe(produce.join(' ')),
      'kappa → program': async () => await readHere(launcher, kappaArgs, cwd),
      'ssh → program': async () => await readHere('ssh', [...sshd.sshArgs, produce.join(' ')]),
      'local → program': async () => await readHere(produce[0], produce.slice(1))
    }
    const rates: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map(k => [k, []]))
    for (let i = 0; i < RUNS; i++) {
      for (const [name, run] of Object.entries(paths)) rates[name].push(await run())
      process.stderr.write(`  run ${i + 1}/${RUNS}: ${Object.entries(rates).map(([k, r]) => `${k} ${fmt(r[i], 0)}`).join(', ')} MB/s\n`)
    }
    const raw: number[] = []
    for (let i = 0; i < Math.min(RUNS, 3); i++) raw.push(await rawStream())
    const med = (name: string): number => percentile(rates[name], 0.5)
    const row = (label: string, name: string, ssh: string): string =>
      `| ${label} | ${fmt(med(name), 0)} | ${fmt(Math.min(...rates[name]), 0)}–${fmt(Math.max(...rates[name]), 0)} | ${fmt(med(name) / med(ssh), 2)} |`
    const pipeRatio = med('kappa | wc') / med('ssh | wc')
    const programRatio = med('kappa → program') / med('ssh → program')
    const lines = [
      `# bench/throughput — ${new Date().toISOString()}`,
      '',
      `Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Node ${process.version}; ${BYTES / 1e6} MB of stdout (\`head -c … /dev/zero\`), ${RUNS} runs of each path, alternating; kappa daemons and sshd on 127.0.0.1 (\`npm run bench:throughput\`).`,
      '',
      '| path | MB/s (median) | range | ratio to ssh |',
      '| --- | ---: | ---: | ---: |',
      row('`kappa-node run -- head … \\| wc -c` (placed on B)', 'kappa | wc', 'ssh | wc'),
      row('`ssh -o ControlPath=… host head … \\| wc -c`', 'ssh | wc', 'ssh | wc'),
      row('`head … \\| wc -c` (local pipe)', 'local | wc', 'ssh | wc'),
      row('kappa-node run, read by the program that started it (stdout a socket)', 'kappa → program', 'ssh → program'),
      row('ssh, read by the program that started it', 'ssh → program', 'ssh → program'),
      row('local, read by the program that started it', 'local → program', 'ssh → program'),
      `| one raw libp2p stream (TCP + Noise + Yamux, 256 KiB writes, no job) | ${fmt(percentile(raw, 0.5), 0)} | ${fmt(Math.min(...raw), 0)}–${fmt(Math.max(...raw), 0)} | ${fmt(percentile(raw, 0.5) / med('ssh → program'), 2)} |`,
      '',
      `Target: kappa ≥ 1.0 × ssh → shell pipeline ${fmt(pipeRatio, 2)}× (${pipeRatio >= 1 ? 'met' : 'not met'}), program reading ${fmt(programRatio, 2)}× (${programRatio >= 1 ? 'met' : 'not met'}).`,
      '',
      'Beyond the first MiB a job\'s data goes over a bulk connection (AES-256-GCM records keyed inside the job\'s Noise stream, src/bulk); into a pipe the origin writes the output itself, otherwise the `run` client writes it from its read buffer. The raw libp2p stream row is the ceiling kappa had before (every byte through Noise and Yamux in JavaScript).',
      ''
    ]
    process.stdout.write(lines.join('\n'))
    await mkdir(join(REPO, 'bench/results'), { recursive: true })
    await writeFile(join(REPO, 'bench/results/throughput.md'), lines.join('\n'))
  })
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
