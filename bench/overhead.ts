/**
 * bench/overhead: the fixed cost of placing a trivial program.
 * `kappa-node run -- true` placed on a remote node (executable cached),
 * `true` run locally, and `ssh -o ControlPath=…` (a master connection already
 * open) to a throwaway sshd on loopback; p50 of each and the ratios.
 * Target (issue 5): remote p50 ≤ 0.6 × ssh with ControlMaster.
 * Wrapped commands (issue 13): a `kappa-node wrap` shim for `true` that the
 * daemon's placement hint lets start here (B's home: B is the best node),
 * and one that the daemon places on B (A's home); target: wrapped-local p50
 * at most a few ms above the bare command.
 */
import { execFile } from 'node:child_process'
import { writeFile, mkdir } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from '../test/helpers/node.js'
import { withKappaAndSsh } from './lib/loopback.js'
import { percentile, timeIt, fmt } from './lib/stats.js'
import { HINT_MAX_SLOTS } from '../src/constants.js'

const RUNS = Number(process.env.RUNS ?? 40)

async function exec (cmd: string, args: string[], cwd?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { cwd }, (err) => { err == null ? resolve() : reject(err) })
  })
}

/** CPU ms a process has used (utime + stime, at the kernel's 100 Hz ticks). */
function daemonCpuMs (pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid ?? 'self'}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function series (name: string, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await fn() // warm-up
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) times.push(await timeIt(fn))
  process.stderr.write(`  ${name}: p50 ${fmt(percentile(times, 0.5))} ms\n`)
  return times
}

async function main (): Promise<void> {
  await withKappaAndSsh(async ({ a, b, cwd, launcher, sshd }) => {
    // the executable is cached on B after the warm-up runs
    const remote = await series('kappa remote true', async () => { await exec(launcher, ['run', '--home', a.home, '--', 'true'], cwd) })
    const viaKappaLocal = await series('kappa --local true', async () => { await exec(launcher, ['run', '--home', a.home, '--local', '--', 'true'], cwd) })
    const local = await series('local true', async () => { await exec('true', []) })
    const shims = async (home: string, dir: string): Promise<string> => {
      await exec(launcher, ['wrap', '--home', home, '--dir', join(cwd, dir), 'true'])
      return join(cwd, dir, 'true')
    }
    const wrappedHere = await shims(b.home, 'shims-b')
    const wrappedThere = await shims(a.home, 'shims-a')
    const wrappedLocal = await series('wrapped true, started here on the hint', async () => { await exec(wrappedHere, [], cwd) })
    // the daemons' own CPU per remote job: what each job costs the origin and the target besides the program
    const cpuBefore = [daemonCpuMs(a.proc.pid), daemonCpuMs(b.proc.pid)]
    const wrappedRemote = await series('wrapped true, placed on B', async () => { await exec(wrappedThere, [], cwd) })
    const perJob = [daemonCpuMs(a.proc.pid), daemonCpuMs(b.proc.pid)].map((ms, i) => (ms - cpuBefore[i]) / (RUNS + 3))
    const hint = JSON.parse(await new Promise<string>((resolve, reject) => {
      execFile(launcher, ['status', '--home', b.home, '--json'], (err, out) => { err == null ? resolve(out) : reject(err) })
    })).hint
    const ssh = await series('ssh (ControlMaster) true', async () => { await exec('ssh', [...sshd.sshArgs, 'true']) })
    const log = (await import('node:fs/promises')).readFile(join(b.home, 'jobs.log'), 'utf8')
    const remoteRuns = (await log).split('\n').filter(l => l.includes('"argv":["true"]')).length

    const p50 = (t: number[]): number => percentile(t, 0.5)
    const lines = [
      `# bench/overhead — ${new Date().toISOString()}`,
      '',
      `Machine: ${(await import('node:os')).cpus()[0]?.model ?? '?'}, ${(await import('node:os')).cpus().length} cores; ${RUNS} runs each after 3 warm-ups; two kappa daemons on 127.0.0.1 (A pinned 37, B 148), sshd on 127.0.0.1 with a ControlMaster connection open.`,
      '',
      '| what | p50 ms | p90 ms | ratio to ssh |',
      '| --- | ---: | ---: | ---: |',
      ...[['kappa-node run -- true (remote, cached exe)', remote], ['kappa-node run --local -- true', viaKappaLocal], ['true (local, no kappa)', local], ['wrapped true (`kappa-node wrap` shim), started here on the hint', wrappedLocal], ['wrapped true, placed on B', wrappedRemote], ['ssh -o ControlPath=… host true', ssh]]
        .map(([name, t]) => `| ${name as string} | ${fmt(p50(t as number[]))} | ${fmt(percentile(t as number[], 0.9))} | ${fmt(p50(t as number[]) / p50(ssh), 2)} |`),
      '',
      `Remote runs recorded in B's job log: ${remoteRuns}. Target: remote p50 ≤ 0.6 × ssh → ${p50(remote) <= 0.6 * p50(ssh) ? 'met' : 'not met'} (${fmt(p50(remote) / p50(ssh), 2)}).`,
      '',
      `Daemon CPU per remote job (the wrapped series placed on B, warm-ups included): origin A ${fmt(perJob[0])} ms, target B ${fmt(perJob[1])} ms (utime + stime of each daemon process; the job's own processes are not in it).`,
      '',
      `Wrapped commands: a shim started here on the daemon's placement hint costs ${fmt(p50(wrappedLocal) - p50(local))} ms more than the bare command at p50 (target: a few ms; before the hint every wrapped call started Node, ~45 ms). B started ${hint?.claimed ?? '?'} wrapped runs on its hint (one in ${HINT_MAX_SLOTS + 1} at most asks the daemon, when a hint's slots are used up before the next one is published).`,
      ''
    ]
    process.stdout.write(lines.join('\n'))
    await mkdir(join(REPO, 'bench/results'), { recursive: true })
    await writeFile(join(REPO, 'bench/results/overhead.md'), lines.join('\n'))
  })
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
