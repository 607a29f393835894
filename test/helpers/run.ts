import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MAIN, onCleanup, type TestNode } from './node.js'
import { encodeDirectory } from '../../src/workspace/index.js'
import type { Job } from '../../src/wire/migrate.js'

export interface JobResult { code: number | null, signal: NodeJS.Signals | null, stdout: Buffer, stderr: string }

/**
 * What a job's stdout may hold in the test's memory. Past it the client is
 * killed and the result says why: a job meant to stop (its target killed)
 * that keeps printing must fail its test, not fill the machine's memory
 * (an endless `head -c 1M /dev/zero` loop once grew a mocha worker to 24 GB).
 */
const KEPT_STDOUT_BYTES = 256 * 1024 * 1024

/** `kappa-node run` from `node`'s home, as a real client process in `cwd`. */
export function startJob (node: TestNode, args: string[], opts: { cwd: string, stdin?: Buffer | string, env?: NodeJS.ProcessEnv }): { proc: ChildProcess, done: Promise<JobResult> } {
  const proc = spawn(process.execPath, [MAIN, 'run', '--home', node.home, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, KAPPA_HOME: undefined, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  onCleanup(async () => { if (proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL') })
  const out: Buffer[] = []
  let kept = 0
  let err = ''
  proc.stdout?.on('data', (d: Buffer) => {
    kept += d.length
    if (kept <= KEPT_STDOUT_BYTES) out.push(d)
    else if (proc.exitCode == null && proc.signalCode == null) {
      err += `(test helper: stdout passed ${KEPT_STDOUT_BYTES} bytes; the client was killed)\n`
      proc.kill('SIGKILL')
    }
  })
  proc.stderr?.on('data', (d: Buffer) => { err += String(d) })
  proc.stdin?.on('error', () => {})
  if (opts.stdin != null) proc.stdin?.end(opts.stdin)
  else proc.stdin?.end()
  const done = new Promise<JobResult>((resolve) => {
    proc.on('close', (code, signal) => { resolve({ code, signal, stdout: Buffer.concat(out), stderr: err }) })
  })
  return { proc, done }
}

export async function runJob (node: TestNode, args: string[], opts: { cwd: string, stdin?: Buffer | string, env?: NodeJS.ProcessEnv }): Promise<JobResult> {
  return await startJob(node, args, opts).done
}

/** The target's job log: one JSON object per job. */
export async function jobLog (node: TestNode): Promise<any[]> {
  const text = await readFile(join(node.home, 'jobs.log'), 'utf8').catch(() => '')
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l))
}

/** Processes whose command line contains `needle` (to prove a remote job is gone). */
export async function processesMatching (needle: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises')
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')
    if (cmd.split('\0').join(' ').includes(needle)) pids.push(Number(name))
  }
  return pids
}

/** A well-formed job request for `true` in an empty workspace, for tests that speak /kappa/migrate/3 themselves. */
export function emptyJob (): Job {
  const root = encodeDirectory({ files: [], directories: [], symlinks: [] })
  return {
    ticket: new Uint8Array(0), argv: ['true'], cwd: '/tmp/kappa-empty-workspace', env: [], workspace: '/tmp/kappa-empty-workspace',
    rootDigest: Buffer.from(root.digest, 'hex'), rootMode: 0o755, treeFrames: 0, treeFiles: 0n, treeBytes: 0n,
    exe: { path: '/bin/true', digest: new Uint8Array(32), size: 0n, mode: 0o755, inWorkspace: false, links: [], arch: '', interpreter: '' },
    extras: [], outputs: [], stdin: false, umask: 0o022, toolchain: new Uint8Array(0)
  }
}
