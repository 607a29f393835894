import { spawn, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { createReadStream, existsSync } from 'node:fs'
import { appendFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Frame, type Job } from '../wire/migrate.js'
import { FrameChannel, EndOfStreamError } from './channel.js'
import { IncomingFile, listFiles, safeRelative, type JobFile } from './files.js'
import { bubblewrapArgs } from './sandbox.js'
import { JobOutput } from './output.js'
import { findExecutable, machineArch } from '../host/requirements.js'
import { errorMessage } from '../errors.js'
import { shortId } from '../names.js'
import {
  MAX_EXE_BYTES, MAX_INPUT_BYTES, MAX_OUTPUT_BYTES, MIGRATE_CHUNK_BYTES, MIGRATE_SETUP_TIMEOUT_MS, MAX_ARGV_BYTES, JOB_NICENESS
} from '../constants.js'
import type { MigrationComponents, MigrationInit, JobView, MigrationCounters } from './index.js'
import type { Connection, Stream } from '@libp2p/interface'

const PATH_IN_JOB = '/usr/local/bin:/usr/bin:/bin'

interface RunningJob {
  view: JobView
  child?: ChildProcess
}

/** The target side of /kappa/migrate/1: admission, executable cache, job directory, sandboxed run, streams. */
export class JobRunner {
  readonly running = new Map<string, RunningJob>()
  private readonly cacheDir: string
  private readonly jobsDir: string
  private readonly logFile: string

  constructor (private readonly components: MigrationComponents, private readonly init: Required<Omit<MigrationInit, 'memoryBytes'>> & Pick<MigrationInit, 'memoryBytes'>, private readonly counters: MigrationCounters) {
    this.cacheDir = join(components.home, 'cache')
    this.jobsDir = join(components.home, 'jobs')
    this.logFile = join(components.home, 'jobs.log')
  }

  async start (): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true, mode: 0o700 })
    // job directories of a daemon that died are of no use to anyone
    await rm(this.jobsDir, { recursive: true, force: true })
    await mkdir(this.jobsDir, { recursive: true, mode: 0o711 })
  }

  /** Kill every job (daemon stopping). */
  stop (): void {
    for (const job of this.running.values()) killGroup(job.child, 'SIGKILL')
  }

  async onStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const bulk = this.components.bulk
    const channel = new FrameChannel(stream, bulk != null ? { offer: () => bulk.offer() } : {})
    const setup = AbortSignal.timeout(MIGRATE_SETUP_TIMEOUT_MS)
    const id = randomBytes(6).toString('hex')
    let jobDir: string | undefined
    let reserved = false
    const log: Record<string, unknown> = { time: new Date().toISOString(), id, origin: remote }
    try {
      let first: Frame
      try {
        first = await channel.read(setup)
      } catch (err) {
        // a stream the origin opened while its probe was out, for a job that went elsewhere: nothing happened
        if (err instanceof EndOfStreamError) { channel.abort(err); return }
        throw err
      }
      if (first.type !== Frame.Type.REQUEST || first.job == null) throw new Error('expected a job request')
      this.counters.jobsIn++
      const job = first.job
      Object.assign(log, { argv: job.argv, cwd: job.cwd, exeSha256: Buffer.from(job.exeSha256).toString('hex') })
      const refusal = this.admit(remote, job)
      if (refusal != null) {
        this.counters.refused++
        Object.assign(log, { refused: refusal })
        await this.writeLog(log)
        await channel.write({ type: Frame.Type.REFUSE, message: refusal }, setup)
        await channel.close(setup).catch(() => {})
        return
      }
      reserved = true
      this.running.set(id, { view: { id, peer: remote, argv0: job.argv[0], startedAt: Date.now() } })

      const sha = Buffer.from(job.exeSha256).toString('hex')
      const cachedExe = join(this.cacheDir, sha)
      const needExe = !existsSync(cachedExe)
      await channel.write({ type: Frame.Type.ACCEPT, needExe }, setup)
      if (needExe) await this.receiveExe(channel, job, cachedExe, setup)
      else this.counters.exeCacheHits++
      Object.assign(log, { exeCached: !needExe, exeBytesReceived: needExe ? Number(job.exeSize) : 0 })

      jobDir = await mkdtemp(join(this.jobsDir, `${id}-`))
      const workDir = join(jobDir, 'work')
      await mkdir(workDir, { recursive: true })
      const inputs = await this.receiveInputs(channel, job, workDir, setup)
      // an eager job with its executable already here has nothing more to wait for
      if (needExe || !job.eager || job.inputs.length > 0) {
        const start = await channel.read(setup)
        if (start.type !== Frame.Type.START) throw new Error('expected START')
      }

      await this.run(channel, job, id, cachedExe, jobDir, workDir, inputs, log)
    } catch (err) {
      Object.assign(log, { error: errorMessage(err) })
      channel.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      if (reserved) this.running.delete(id)
      if (jobDir != null) await rm(jobDir, { recursive: true, force: true }).catch(() => {})
      await this.writeLog(log)
    }
  }

  /** One JSON line per job in `$KAPPA_HOME/jobs.log`, written once. */
  private async writeLog (log: Record<string, unknown>): Promise<void> {
    if (log.endedAt != null) return
    log.endedAt = new Date().toISOString()
    await appendFile(this.logFile, JSON.stringify(log) + '\n', { mode: 0o600 }).catch(() => {})
  }

  /** Why this job cannot run here, or undefined. Redeems the ticket it carries. */
  private admit (remote: string, job: Job): string | undefined {
    const paired = this.components.trust.has(remote)
    if (job.ticket.length > 0) {
      const r = this.components.tickets.redeem(remote, job.ticket)
      if (!r.ok && !paired) return r.reason
    } else if (!paired) {
      return 'not paired with this node and no migration ticket'
    }
    if (this.running.size >= this.init.maxJobs) return `busy: ${this.running.size} jobs running here (limit ${this.init.maxJobs})`
    if (job.argv.length === 0 || job.argv.some(a => a.includes('\0'))) return 'empty or malformed argv'
    if (job.argv.reduce((n, a) => n + a.length, 0) > MAX_ARGV_BYTES) return `argv over ${MAX_ARGV_BYTES} bytes`
    if (!job.cwd.startsWith('/') || !job.exePath.startsWith('/')) return 'cwd and executable path must be absolute'
    if (job.exeSha256.length !== 32) return 'malformed executable hash'
    if (job.exeSize > BigInt(MAX_EXE_BYTES)) return `executable over the ${MAX_EXE_BYTES / 2 ** 20} MiB limit`
    if (job.arch !== '' && job.arch !== machineArch()) return `executable is for ${job.arch}, this node is ${machineArch()}`
    if (job.interpreter !== '' && findExecutable(job.interpreter, PATH_IN_JOB) == null) return `interpreter ${job.interpreter} is not installed here`
    let total = 0n
    for (const f of job.inputs) {
      try { safeRelative(f.path) } catch { return `unsafe input path '${f.path}'` }
      total += f.size
    }
    if (total > BigInt(MAX_INPUT_BYTES)) return `input files over the ${MAX_INPUT_BYTES / 2 ** 30} GiB limit`
    for (const o of job.outputs) {
      try { safeRelative(o) } catch { return `unsafe output path '${o}'` }
    }
    return undefined
  }

  private async receiveExe (channel: FrameChannel, job: Job, cachedExe: string, signal: AbortSignal): Promise<void> {
    const file = await IncomingFile.create(cachedExe, Number(job.exeSize), 0o500)
    const hash = createHash('sha256')
    try {
      while (!file.complete) {
        const frame = await channel.read(signal)
        if (frame.type !== Frame.Type.DATA) throw new Error('expected executable data')
        hash.update(frame.data)
        await file.write(frame.data)
        this.counters.exeBytesReceived += frame.data.length
      }
      if (!hash.digest().equals(Buffer.from(job.exeSha256))) throw new Error('executable does not match its sha256')
      await file.finish()
    } catch (err) {
      await file.discard()
      throw err
    }
  }

  private async receiveInputs (channel: FrameChannel, job: Job, workDir: string, signal: AbortSignal): Promise<Map<string, JobFile>> {
    const received = new Map<string, JobFile>()
    for (let i = 0; i < job.inputs.length; i++) {
      const meta = await channel.read(signal)
      if (meta.type !== Frame.Type.FILE || meta.file == null) throw new Error('expected an input file')
      const rel = safeRelative(meta.file.path)
      const file = await IncomingFile.create(join(workDir, rel), Number(meta.file.size), meta.file.mode)
      try {
        while (!file.complete) {
          const frame = await channel.read(signal)
          if (frame.type !== Frame.Type.DATA) throw new Error('expected input file data')
          await file.write(frame.data)
        }
        await file.finish()
      } catch (err) {
        await file.discard()
        throw err
      }
      const st = await stat(join(workDir, rel))
      received.set(rel, { path: rel, size: st.size, mode: st.mode & 0o777, mtimeMs: st.mtimeMs })
    }
    return received
  }

  private async run (channel: FrameChannel, job: Job, id: string, cachedExe: string, jobDir: string, workDir: string, inputs: Map<string, JobFile>, log: Record<string, unknown>): Promise<void> {
    const env: Record<string, string> = { PATH: PATH_IN_JOB, HOME: '/tmp', TMPDIR: '/tmp' }
    for (const { name, value } of job.env) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name !== 'PATH') env[name] = value
    let command: string
    let args: string[]
    let exeInWork: string | undefined
    if (this.init.bwrap != null) {
      const launch = bubblewrapArgs(this.init.bwrap, { workDir, cwd: job.cwd, cachedExe, exePath: job.exePath, allowNetwork: this.init.allowNetwork }, job.argv)
      command = launch.command
      args = launch.args
      // bwrap creates a mount point for an executable that lives under the cwd: not an output
      if (job.exePath.startsWith(`${job.cwd}/`)) exeInWork = job.exePath.slice(job.cwd.length + 1)
    } else {
      command = cachedExe
      args = job.argv.slice(1)
    }
    if (this.init.memoryBytes != null && findExecutable('prlimit') != null) {
      args = [`--as=${this.init.memoryBytes}`, '--', command, ...args]
      command = 'prlimit'
    }
    // beside the work directory, not in it: the sandbox sees neither socket
    const [stdout, stderr] = await Promise.all([JobOutput.open(jobDir, 'stdout.sock'), JobOutput.open(jobDir, 'stderr.sock')])
    const child = spawn(command, args, { cwd: workDir, env, detached: true, stdio: ['pipe', stdout.childEnd, stderr.childEnd], argv0: this.init.bwrap == null ? job.argv[0] : undefined })
    stdout.releaseChildEnd()
    stderr.releaseChildEnd()
    // below the node itself: a machine full of jobs for others must still answer its peers
    // (spawn returns once the sandbox has exec'd, before it forks the job)
    if (child.pid != null) try { setPriority(child.pid, JOB_NICENESS) } catch {}
    const entry = this.running.get(id)
    if (entry != null) entry.child = child
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => { resolve({ code, signal }) })
      child.once('error', () => { resolve({ code: 127, signal: null }) })
    })
    child.stdin.on('error', () => {})
    // the origin vanishing (reset, lost connection) kills the job at once
    let finished = false
    const onGone = (): void => { if (!finished) killGroup(child, 'SIGKILL') }
    const offGone = channel.onClose(onGone)
    let timedOut = false
    const wall = setTimeout(() => { timedOut = true; killGroup(child, 'SIGKILL') }, this.init.wallMs)

    await channel.write({ type: Frame.Type.STARTED, jobId: id })
    this.components.events.emit({ type: 'info', message: `running ${job.argv[0]} for ${shortId(String(log.origin))} (job ${id})` })
    const started = Date.now()
    const reading = this.readControl(channel, child, { 1: stdout, 2: stderr })
    const pumps = Promise.all([
      stdout.pump(async (data) => { await channel.writeData(Frame.Type.STDOUT, [data], { borrowed: true }) }),
      stderr.pump(async (data) => { await channel.writeData(Frame.Type.STDERR, [data], { borrowed: true }) })
    ])
    const { code, signal } = await exited
    // whatever the job left running in the background (holding its pipes) goes too
    if (child.pid != null) try { process.kill(-child.pid, 'SIGKILL') } catch {}
    await pumps
    clearTimeout(wall)
    finished = true
    offGone()
    if (timedOut) await channel.write({ type: Frame.Type.STDERR, data: Buffer.from(`kappa: job killed after the ${Math.round(this.init.wallMs / 1000)} s wall-time limit of this node\n`) })
    const sent = await this.sendOutputs(channel, job, workDir, inputs, exeInWork)
    Object.assign(log, { exit: code, signal, durationMs: Date.now() - started, outputs: sent, sandbox: this.init.bwrap != null ? 'bwrap' : 'none', timedOut, transport: channel.transport })
    // in the log before the origin hears the end: whoever reads it after `run` returns finds the job
    await this.writeLog(log)
    await channel.write({ type: Frame.Type.EXIT, code: code ?? 0, signal: signal ?? '' })
    await channel.close(AbortSignal.timeout(5000)).catch(() => {})
    void reading
  }

  /** stdin, stdin EOF and signals from the origin while the job runs. */
  private async readControl (channel: FrameChannel, child: ChildProcess, outputs: Record<1 | 2, JobOutput>): Promise<void> {
    try {
      for (;;) {
        const frame = await channel.read()
        if (frame.type === Frame.Type.STDIN) {
          if (child.stdin?.writable === true && !child.stdin.write(frame.data)) {
            await new Promise<void>(resolve => { child.stdin?.once('drain', resolve); child.once('exit', () => { resolve() }) })
          }
        } else if (frame.type === Frame.Type.STDIN_EOF) {
          child.stdin?.end()
        } else if (frame.type === Frame.Type.SIGNAL) {
          if (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'].includes(frame.signal)) killGroup(child, frame.signal as NodeJS.Signals)
        } else if (frame.type === Frame.Type.CLOSE_OUTPUT) {
          // the reader on the origin went away: as with a pipe there, the job gets SIGPIPE, and nothing
          // more is read (closing a socket with unread data would give the writer ECONNRESET, not EPIPE)
          if (frame.code === 1 || frame.code === 2) {
            killGroup(child, 'SIGPIPE')
            outputs[frame.code].destroy()
          }
        }
      }
    } catch {
      // the origin closed its side (done) or vanished (the close listener kills the job)
    }
  }

  /** Files the job created or changed, plus those asked for with --output. */
  private async sendOutputs (channel: FrameChannel, job: Job, workDir: string, inputs: Map<string, JobFile>, exeInWork?: string): Promise<number> {
    const requested = new Set(job.outputs.map(o => safeRelative(o)))
    const files = (await listFiles(workDir)).filter(f => {
      if (f.path === exeInWork) return false
      if (requested.has(f.path)) return true
      const before = inputs.get(f.path)
      return before == null || before.size !== f.size || before.mtimeMs !== f.mtimeMs
    })
    let total = 0
    let sent = 0
    for (const f of files) {
      total += f.size
      if (total > MAX_OUTPUT_BYTES) {
        await channel.write({ type: Frame.Type.STDERR, data: Buffer.from(`kappa: output files over ${MAX_OUTPUT_BYTES / 2 ** 30} GiB were not copied back\n`) })
        break
      }
      await channel.write({ type: Frame.Type.FILE, file: { path: f.path, size: BigInt(f.size), mode: f.mode } })
      for await (const chunk of createReadStream(join(workDir, f.path), { highWaterMark: MIGRATE_CHUNK_BYTES })) {
        await channel.writeData(Frame.Type.DATA, [chunk as Buffer])
      }
      sent++
    }
    return sent
  }

  /** Executables in the cache, for status. */
  async cacheEntries (): Promise<number> {
    return (await readdir(this.cacheDir).catch(() => [])).length
  }
}

export function killGroup (child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid == null || child.exitCode != null || child.signalCode != null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch {}
  }
}


