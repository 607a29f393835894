/**
 * Short system commands (mount, umount) run by one long-lived /bin/sh
 * instead of a spawn each. A spawn from the daemon, a Node process of
 * ~100 MB, costs ~7 ms of its CPU (the fork copies its page tables). A line
 * to a shell that forks the command costs ~0.3 ms. A remote job mounts and
 * unmounts 2–3 times, so on a busy target this is a visible share of
 * what each job costs.
 *
 * Commands run one at a time, in order. Every argument is single-quoted;
 * one that holds a newline or NUL is refused, since the shell reads one line
 * per command. If the shell dies, the command it was running fails and the
 * next one starts a new shell.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface, type Interface } from 'node:readline'
import { logger } from '@libp2p/logger'
import { serializer } from '../serialize.js'

const log = logger('kappa:command-shell')

// runs each line; answers "<status> <stderr on one line>"
const LOOP = 'while IFS= read -r line; do err=$(eval "$line" 2>&1 </dev/null); s=$?; printf \'%s %s\\n\' "$s" "$(printf \'%s\' "$err" | tr \'\\n\' \' \')"; done'

export const COMMAND_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }

/** `arg` as one sh word. */
export function shellQuote (arg: string): string {
  if (/[\n\0]/.test(arg)) throw new Error('an argument with a newline or NUL cannot be passed to the command shell')
  return `'${arg.replaceAll("'", "'\\''")}'`
}

export class CommandShell {
  private child?: ChildProcessWithoutNullStreams
  private lines?: Interface
  private answer?: { resolve: (line: string) => void, reject: (err: Error) => void }
  private readonly queue = serializer(log)

  /** Runs `cmd args…`; rejects with `cmd: <its stderr>` when it exits non-zero. */
  async run (cmd: string, args: string[]): Promise<void> {
    const line = [cmd, ...args].map(shellQuote).join(' ')
    const reply = await this.queue(async () => await this.ask(line))
    const space = reply.indexOf(' ')
    const status = Number(reply.slice(0, space))
    const stderr = reply.slice(space + 1).trim()
    if (status !== 0) throw new Error(`${cmd}: ${stderr !== '' ? stderr : `exit ${status}`}`)
  }

  private async ask (line: string): Promise<string> {
    const child = this.start()
    // referenced while a command runs: a process with nothing else to do still waits for it
    const out = child.stdout as unknown as { ref?: () => void, unref?: () => void }
    out.ref?.()
    try {
      return await new Promise<string>((resolve, reject) => {
        this.answer = { resolve, reject }
        child.stdin.write(`${line}\n`)
      })
    } finally {
      out.unref?.()
    }
  }

  private start (): ChildProcessWithoutNullStreams {
    if (this.child != null) return this.child
    const child = spawn('/bin/sh', ['-c', LOOP], { env: COMMAND_ENV, stdio: ['pipe', 'pipe', 'pipe'] })
    // the daemon's exit closes its stdin, and the loop ends: it never keeps the daemon alive
    child.unref()
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.()
    child.stderr.on('data', (d: Buffer) => { log('stderr: %s', String(d).trim()) })
    child.stdin.on('error', (err) => { log('stdin: %s', err.message) })
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (l) => {
      const waiting = this.answer
      this.answer = undefined
      waiting?.resolve(l)
    })
    const gone = (why: string): void => {
      if (this.child !== child) return
      this.child = undefined
      this.lines?.close()
      this.lines = undefined
      const waiting = this.answer
      this.answer = undefined
      log('the command shell ended (%s)', why)
      waiting?.reject(new Error(`the command shell ended (${why})`))
    }
    child.once('exit', (code, signal) => { gone(signal ?? `exit ${String(code)}`) })
    child.once('error', (err) => { gone(err.message) })
    this.child = child
    this.lines = lines
    return child
  }

  /** The shell's pid while it runs (tests). */
  get pid (): number | undefined {
    return this.child?.pid
  }

  /** Ends the shell (tests; a daemon's exit ends it anyway). */
  close (): void {
    this.child?.stdin.end()
  }
}
