/**
 * `kappa-node run`: the thin client. It loads no libp2p: it hands the job to
 * the local daemon over the control socket and then only moves stdio and
 * signals. When the daemon says "run it here" (or is not running), it runs
 * the command itself, exactly as the shell would have.
 */
import { constants as osConstants, homedir } from 'node:os'
import { readFileSync, writeSync } from 'node:fs'
import { openDaemonSocket } from '../control/client.js'
import { resolveHome } from '../home/paths.js'
import { UserError, errorMessage } from '../errors.js'
import { RunFrame, RunFrameParser, encodeRunFrame } from '../control/frames.js'
import { pipeIdentity } from '../control/direct.js'
import { HeldOutput } from './held.js'
import type { Socket } from 'node:net'
import { debugLogger } from '../debug.js'

const debug = debugLogger('run')

export interface RunOptions {
  home?: string
  local?: boolean
  remote?: boolean
  peer?: string
  input?: string[]
  output?: string[]
  /** --env NAME: pass this variable even if it is host-specific */
  env?: string[]
  /** --no-env NAME: keep this variable at home */
  noEnv?: string[]
  /** --workspace DIR */
  workspace?: string
  stdin?: boolean
  /**
   * The caller may run the command here again when kappa fails it (src/run/retry.ts):
   * the job's output is held back until it ends (up to HOLD_MAX_BYTES), and such
   * a failure is reported in the outcome instead of on stderr.
   */
  retry?: boolean
}

/** How a run ended, for a caller that may run the command again (RunOptions.retry). */
export interface RunOutcome {
  status: number
  /** 'program': the program's own status (it ran to its end); 'kappa': kappa failed it (job lost, target or daemon failed) */
  verdict: 'program' | 'kappa'
  where: 'local' | 'remote'
  /** what failed, for a 'kappa' verdict */
  reason?: string
  /** the job's output, held back (RunOptions.retry): write it out, or drop it for a re-run */
  held: HeldOutput
  /** stdin was forwarded to the job: a re-run would not see it again */
  stdinUsed: boolean
  /** a signal from here (Ctrl-C, kill) was passed on to the job: its status answers that */
  interrupted: boolean
}

/** Output held back (a 64 MiB bound: a compiler's diagnostics, not a video). */
export const HOLD_MAX_BYTES = 64 * 1024 * 1024
export { HeldOutput }

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function note (line: string): void {
  process.stderr.write(`kappa-node: ${line}\n`)
}

function exitStatus (code: number | null, signal: string | null): number {
  if (signal != null) return 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0)
  return code ?? 0
}

export async function runCommand (argv: string[], opts: RunOptions): Promise<number> {
  return (await runJob(argv, opts)).status
}

export async function runJob (argv: string[], opts: RunOptions): Promise<RunOutcome> {
  const held = new HeldOutput(opts.retry === true ? HOLD_MAX_BYTES : 0)
  const here = async (): Promise<RunOutcome> => ({ status: await runHere(argv), verdict: 'program', where: 'local', held, stdinUsed: false, interrupted: false })
  if (argv.length === 0) throw new UserError('nothing to run: kappa-node run [options] -- command args…')
  if ([opts.local, opts.remote, opts.peer != null].filter(Boolean).length > 1) throw new UserError('use only one of --local, --remote, --peer')
  let socket: Socket
  // the daemon's frames land in one reused buffer; output is written from it, never copied
  let received: (data: Buffer) => void = () => {}
  try {
    socket = await openDaemonSocket(resolveHome(opts.home), {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (n, buf) => { received((buf as Buffer).subarray(0, n)); return true }
    })
  } catch (err) {
    // --local: the daemon only hears of the job (its history, its pending work); without one, it just runs
    if (opts.local === true) return await here()
    if (opts.retry === true && opts.peer != null) return { status: 1, verdict: 'kappa', where: 'remote', reason: errorMessage(err), held, stdinUsed: false, interrupted: false }
    if (opts.remote === true || opts.peer != null) throw err
    note(`${errorMessage(err)}; running locally`)
    return await here()
  }
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value != null) env[name] = value
  const forwardStdin = opts.stdin === true || process.stdin.isTTY !== true
  const request = {
    method: 'run',
    params: {
      argv,
      cwd: process.cwd(),
      path: process.env.PATH ?? '',
      // the whole environment: the daemon leaves the host-specific part at home
      env,
      envAdd: opts.env ?? [],
      envDrop: opts.noEnv ?? [],
      home: process.env.HOME ?? homedir(),
      umask: currentUmask(),
      workspace: opts.workspace != null ? resolvePath(opts.workspace) : undefined,
      inputs: opts.input ?? [],
      outputs: opts.output ?? [],
      mode: opts.local === true ? 'local' : opts.remote === true ? 'remote' : opts.peer != null ? 'peer' : 'auto',
      peer: opts.peer,
      stdin: forwardStdin,
      // pipes the daemon may write the job's output into itself (the fast path); not when it is held here
      stdio: { pid: process.pid, pipes: opts.retry === true ? {} : clientPipes() }
    }
  }
  socket.write(JSON.stringify(request) + '\n')
  let stdinUsed = false
  let interrupted = false
  return await new Promise<RunOutcome>((resolve) => {
    let started = false
    let settled = false
    /** the outcome is known; what is left is writing out what was already received */
    let ending = false
    const finish = (code: number, failed?: string): void => {
      if (settled) return
      settled = true
      for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
      process.stdin.pause()
      socket.destroy()
      if (failed != null && opts.retry !== true) note(failed)
      resolve({ status: code, verdict: failed == null ? 'program' : 'kappa', where: 'remote', reason: failed, held, stdinUsed, interrupted })
    }
    /** `report`: the daemon keeps the job in its history and hears how the run here ended (LOCAL_EXIT) */
    const runHereInstead = (report = false): void => {
      settled = true
      for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
      if (!report) socket.destroy()
      const began = Date.now()
      here().then((outcome) => {
        if (report) socket.end(encodeRunFrame(RunFrame.LOCAL_EXIT, Buffer.from(JSON.stringify(localExit(outcome.status, Date.now() - began)))))
        resolve(outcome)
      }, () => {
        socket.destroy()
        resolve({ status: 127, verdict: 'program', where: 'local', held, stdinUsed, interrupted })
      })
    }
    let sigintForwarded = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (started && signal === 'SIGINT' && sigintForwarded) {
        // a second Ctrl-C: the job, or its node, did not stop; stop waiting (as ssh's ~.)
        note('interrupted again: no longer waiting for the job')
        finish(130)
      } else if (started) {
        interrupted = true
        sigintForwarded ||= signal === 'SIGINT'
        socket.write(encodeRunFrame(RunFrame.SIGNAL, Buffer.from(signal)))
      } else {
        // still choosing a node: nothing runs yet, just stop (and a wrapped compile is not run again here)
        interrupted = true
        finish(exitStatus(null, signal))
      }
    }
    for (const s of FORWARDED_SIGNALS) process.on(s, onSignal)

    const startStdin = (): void => {
      if (!forwardStdin) return
      process.stdin.on('data', (chunk: Buffer) => {
        stdinUsed = true
        if (!socket.write(encodeRunFrame(RunFrame.STDIN, chunk)) && !process.stdin.isPaused()) {
          process.stdin.pause()
          socket.once('drain', () => { process.stdin.resume() })
        }
      })
      process.stdin.on('end', () => { socket.write(encodeRunFrame(RunFrame.STDIN_EOF)) })
      process.stdin.on('error', () => { socket.write(encodeRunFrame(RunFrame.STDIN_EOF)) })
    }

    const output = new OutputSink(socket, held)
    const progress = new ProgressLine()
    const onFrame = (type: RunFrame, payload: Buffer): void => {
      if (settled || ending) return
      switch (type) {
        case RunFrame.STARTED:
          progress.clear()
          started = true
          startStdin()
          break
        case RunFrame.PROGRESS:
          progress.show(JSON.parse(payload.toString('utf8')))
          break
        case RunFrame.NOTE:
          progress.clear()
          note(String(JSON.parse(payload.toString('utf8')).message))
          break
        case RunFrame.EXIT: {
          const { code, signal } = JSON.parse(payload.toString('utf8'))
          ending = true
          output.flush(() => { finish(exitStatus(code, signal)) })
          return
        }
        case RunFrame.LOCAL: {
          progress.clear()
          const { reason, quiet } = JSON.parse(payload.toString('utf8'))
          if (quiet !== true) note(`running locally: ${String(reason)}`)
          runHereInstead(true)
          return
        }
        case RunFrame.ERROR: {
          progress.clear()
          const { message, code } = JSON.parse(payload.toString('utf8'))
          ending = true
          output.flush(() => { finish(typeof code === 'number' ? code : 255, String(message)) })
        }
      }
    }
    const parser = new RunFrameParser(onFrame, OUTPUT_FRAMES, (type, piece) => { if (!settled) output.write(type === RunFrame.STDOUT ? 1 : 2, piece) })
    received = (data) => {
      try {
        parser.push(data, true)
      } catch (err) {
        finish(255, errorMessage(err))
      }
    }
    socket.on('close', () => {
      if (settled || ending) return
      if (started) {
        finish(255, 'lost the connection to the local kappa-node daemon while the job was running')
      } else if (opts.remote === true) {
        finish(1, 'the kappa-node daemon closed the connection before the job started')
      } else {
        note('the kappa-node daemon closed the connection; running locally')
        runHereInstead()
      }
    })
    socket.on('error', () => {})
  })
}

const OUTPUT_FRAMES: ReadonlySet<RunFrame> = new Set([RunFrame.STDOUT, RunFrame.STDERR])

function resolvePath (p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`
}

/** The process's umask, read without changing it (process.umask() with no argument is deprecated). */
function currentUmask (): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m != null) return parseInt(m[1], 8)
  } catch (err) { debug('reading the umask from /proc: %s', errorMessage(err)) }
  const old = process.umask(0o022)
  process.umask(old)
  return old
}

/** An exit status as the daemon's job record wants it: a code, or the signal behind 128 + n. */
function localExit (status: number, durationMs: number): { code: number | null, signal: string | null, durationMs: number } {
  if (status > 128) {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === status - 128)?.[0]
    if (name != null) return { code: null, signal: name, durationMs }
  }
  return { code: status, signal: null, durationMs }
}

/** A first sync's progress on a terminal's stderr, on one line that is wiped afterwards. */
class ProgressLine {
  private shown = false

  show (p: { sentBytes?: number, totalBytes?: number }): void {
    if (process.stderr.isTTY !== true) return
    const mib = (n: number | undefined): string => ((n ?? 0) / 2 ** 20).toFixed(1)
    process.stderr.write(`\rkappa-node: sending the workspace ${mib(p.sentBytes)} / ${mib(p.totalBytes)} MiB\x1b[K`)
    this.shown = true
  }

  clear (): void {
    if (!this.shown) return
    process.stderr.write('\r\x1b[K')
    this.shown = false
  }
}
const READ_BUFFER_BYTES = 1024 * 1024

function clientPipes (): Record<string, string> {
  const pipes: Record<string, string> = {}
  for (const fd of [1, 2]) {
    const id = pipeIdentity(fd)
    if (id != null) pipes[fd] = id
  }
  return pipes
}

/**
 * The job's output on our stdout and stderr, written as it comes straight
 * from the read buffer: blocking writes, as Node's own stdout does to pipes
 * and files, so a slow reader holds back the socket (and so the remote job).
 * A descriptor that turns out non-blocking goes through its stream instead
 * (with a copy); a reader that goes away is reported once as a broken pipe.
 */
class OutputSink {
  private readonly streamed = new Set<1 | 2>()
  private readonly broken = new Set<1 | 2>()
  /** stdout / stderr streams full until their 'drain': the socket stays paused while any is */
  private readonly full = new Set<NodeJS.WriteStream>()

  constructor (private readonly socket: Socket, private readonly held: HeldOutput) {}

  write (fd: 1 | 2, piece: Buffer): void {
    if (this.held.hold(fd, piece)) return
    if (this.broken.has(fd)) return
    if (this.streamed.has(fd)) { this.viaStream(fd, piece); return }
    let offset = 0
    while (offset < piece.length) {
      try {
        offset += writeSync(fd, piece, offset, piece.length - offset)
      } catch (err: any) {
        if (err.code === 'EAGAIN') {
          this.streamed.add(fd)
          this.viaStream(fd, piece.subarray(offset))
        } else {
          // EPIPE (its reader went away) or worse: the job meets a broken pipe, as it would here
          this.broken.add(fd)
          this.socket.write(encodeRunFrame(RunFrame.OUTPUT_CLOSED, Buffer.from(String(fd))))
        }
        return
      }
    }
  }

  private viaStream (fd: 1 | 2, piece: Buffer): void {
    const out = fd === 1 ? process.stdout : process.stderr
    if (out.listenerCount('error') === 0) out.on('error', () => { this.broken.add(fd) })
    // frames already read keep coming after pause(): one 'drain' listener per full stream, not one per frame
    if (!out.write(Buffer.from(piece)) && !this.full.has(out)) {
      if (this.full.size === 0) this.socket.pause()
      this.full.add(out)
      out.once('drain', () => { this.full.delete(out); if (this.full.size === 0) this.socket.resume() })
    }
  }

  /** `then` once whatever went through a stream has been written. */
  flush (then: () => void): void {
    const pending = [...this.streamed].map(fd => fd === 1 ? process.stdout : process.stderr).filter(s => s.writableLength > 0)
    if (pending.length === 0) { then(); return }
    let left = pending.length
    for (const s of pending) s.write('', () => { if (--left === 0) then() })
  }
}

/** Run the command here, as the shell would: same stdio, status mirrored. */
export async function runHere (argv: string[]): Promise<number> {
  // loaded only when needed: a remote run never spawns here
  const { spawn } = await import('node:child_process')
  return await new Promise<number>((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' })
    // the terminal sends SIGINT to the child as well; TERM and HUP are passed on
    const onSignal = (signal: NodeJS.Signals): void => { if (signal !== 'SIGINT') child.kill(signal) }
    for (const s of FORWARDED_SIGNALS) process.on(s, onSignal)
    child.on('error', (err: NodeJS.ErrnoException) => {
      for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
      note(err.code === 'ENOENT' ? `${argv[0]}: command not found` : `${argv[0]}: ${err.message}`)
      resolve(err.code === 'ENOENT' ? 127 : 126)
    })
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
      resolve(exitStatus(code, signal))
    })
  })
}
