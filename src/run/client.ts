/**
 * `kappa-node run`: the thin client. It loads no libp2p: it hands the job to
 * the local daemon over the control socket and then only moves stdio and
 * signals. When the daemon says "run it here" (or is not running), it runs
 * the command itself, exactly as the shell would have.
 */
import { constants as osConstants } from 'node:os'
import { writeSync } from 'node:fs'
import { openDaemonSocket } from '../control/client.js'
import { resolveHome } from '../home/paths.js'
import { UserError, errorMessage } from '../errors.js'
import { DEFAULT_JOB_ENV } from '../constants.js'
import { RunFrame, RunFrameParser, encodeRunFrame } from '../control/frames.js'
import { pipeIdentity } from '../control/direct.js'
import type { Socket } from 'node:net'

export interface RunOptions {
  home?: string
  local?: boolean
  remote?: boolean
  peer?: string
  input?: string[]
  output?: string[]
  env?: string[]
  stdin?: boolean
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function note (line: string): void {
  process.stderr.write(`kappa-node: ${line}\n`)
}

function exitStatus (code: number | null, signal: string | null): number {
  if (signal != null) return 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0)
  return code ?? 0
}

export async function runCommand (argv: string[], opts: RunOptions): Promise<number> {
  if (argv.length === 0) throw new UserError('nothing to run: kappa-node run [options] -- command args…')
  if ([opts.local, opts.remote, opts.peer != null].filter(Boolean).length > 1) throw new UserError('use only one of --local, --remote, --peer')
  if (opts.local === true) return await runHere(argv)
  let socket: Socket
  // the daemon's frames land in one reused buffer; output is written from it, never copied
  let received: (data: Buffer) => void = () => {}
  try {
    socket = await openDaemonSocket(resolveHome(opts.home), {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (n, buf) => { received((buf as Buffer).subarray(0, n)); return true }
    })
  } catch (err) {
    if (opts.remote === true || opts.peer != null) throw err
    note(`${errorMessage(err)}; running locally`)
    return await runHere(argv)
  }
  const env: Record<string, string> = {}
  for (const name of [...DEFAULT_JOB_ENV, ...(opts.env ?? [])]) {
    const value = process.env[name]
    if (value != null) env[name] = value
  }
  const forwardStdin = opts.stdin === true || process.stdin.isTTY !== true
  const request = {
    method: 'run',
    params: {
      argv,
      cwd: process.cwd(),
      path: process.env.PATH ?? '',
      env,
      inputs: opts.input ?? [],
      outputs: opts.output ?? [],
      mode: opts.remote === true ? 'remote' : opts.peer != null ? 'peer' : 'auto',
      peer: opts.peer,
      stdin: forwardStdin,
      // pipes the daemon may write the job's output into itself (the fast path)
      stdio: { pid: process.pid, pipes: clientPipes() }
    }
  }
  socket.write(JSON.stringify(request) + '\n')
  return await new Promise<number>((resolve) => {
    let started = false
    let settled = false
    /** the outcome is known; what is left is writing out what was already received */
    let ending = false
    const finish = (code: number): void => {
      if (settled) return
      settled = true
      for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
      process.stdin.pause()
      socket.destroy()
      resolve(code)
    }
    let interrupted = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (started && signal === 'SIGINT' && interrupted) {
        // a second Ctrl-C: the job, or its node, did not stop; stop waiting (as ssh's ~.)
        note('interrupted again: no longer waiting for the job')
        finish(130)
      } else if (started) {
        interrupted ||= signal === 'SIGINT'
        socket.write(encodeRunFrame(RunFrame.SIGNAL, Buffer.from(signal)))
      } else {
        // still choosing a node: nothing runs yet, just stop
        finish(exitStatus(null, signal))
      }
    }
    for (const s of FORWARDED_SIGNALS) process.on(s, onSignal)

    const startStdin = (): void => {
      if (!forwardStdin) return
      process.stdin.on('data', (chunk: Buffer) => {
        if (!socket.write(encodeRunFrame(RunFrame.STDIN, chunk))) {
          process.stdin.pause()
          socket.once('drain', () => { process.stdin.resume() })
        }
      })
      process.stdin.on('end', () => { socket.write(encodeRunFrame(RunFrame.STDIN_EOF)) })
      process.stdin.on('error', () => { socket.write(encodeRunFrame(RunFrame.STDIN_EOF)) })
    }

    const output = new OutputSink(socket)
    const onFrame = (type: RunFrame, payload: Buffer): void => {
      if (settled || ending) return
      switch (type) {
        case RunFrame.STARTED:
          started = true
          startStdin()
          break
        case RunFrame.EXIT: {
          const { code, signal } = JSON.parse(payload.toString('utf8'))
          ending = true
          output.flush(() => { finish(exitStatus(code, signal)) })
          return
        }
        case RunFrame.LOCAL: {
          const { reason, quiet } = JSON.parse(payload.toString('utf8'))
          if (quiet !== true) note(`running locally: ${String(reason)}`)
          settled = true
          for (const s of FORWARDED_SIGNALS) process.removeListener(s, onSignal)
          socket.destroy()
          runHere(argv).then(resolve, () => { resolve(127) })
          return
        }
        case RunFrame.ERROR: {
          const { message, code } = JSON.parse(payload.toString('utf8'))
          ending = true
          output.flush(() => {
            note(String(message))
            finish(typeof code === 'number' ? code : 255)
          })
        }
      }
    }
    const parser = new RunFrameParser(onFrame, OUTPUT_FRAMES, (type, piece) => { if (!settled) output.write(type === RunFrame.STDOUT ? 1 : 2, piece) })
    received = (data) => {
      try {
        parser.push(data, true)
      } catch (err) {
        note(errorMessage(err))
        finish(255)
      }
    }
    socket.on('close', () => {
      if (settled || ending) return
      if (started) {
        note('lost the connection to the local kappa-node daemon while the job was running')
        finish(255)
      } else if (opts.remote === true) {
        note('the kappa-node daemon closed the connection before the job started')
        finish(1)
      } else {
        note('the kappa-node daemon closed the connection; running locally')
        settled = true
        runHere(argv).then(resolve, () => { resolve(127) })
      }
    })
    socket.on('error', () => {})
  })
}

const OUTPUT_FRAMES: ReadonlySet<RunFrame> = new Set([RunFrame.STDOUT, RunFrame.STDERR])
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
  private waiting = 0

  constructor (private readonly socket: Socket) {}

  write (fd: 1 | 2, piece: Buffer): void {
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
    if (!out.write(Buffer.from(piece))) {
      if (this.waiting++ === 0) this.socket.pause()
      out.once('drain', () => { if (--this.waiting === 0) this.socket.resume() })
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
