import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Socket } from 'node:net'
import { logger } from '@libp2p/logger'
import { errorMessage } from '../errors.js'
import type { FromHelper, ToHelper } from './spawn-helper.js'

const log = logger('kappa:migrate:spawner')

/** What the target needs of a job's first process: a ChildProcess has all of it. */
export interface JobChild {
  readonly pid?: number
  readonly exitCode: number | null
  readonly signalCode: NodeJS.Signals | null
  kill: (signal: NodeJS.Signals) => boolean
  once: ((event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void) => unknown) & ((event: 'error', listener: (err: Error) => void) => unknown)
}

export interface SpawnOptions {
  cwd: string
  env: Record<string, string>
  umask: number
  /** the job's stdin, stdout and stderr: the job's ends of socket pairs */
  stdio: [Socket, Socket, Socket]
}

/** A job started by the helper: its events arrive over the helper's IPC channel. */
class HelperChild extends EventEmitter implements JobChild {
  pid?: number
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null

  kill (signal: NodeJS.Signals): boolean {
    if (this.pid == null || this.exitCode != null || this.signalCode != null) return false
    process.kill(this.pid, signal)
    return true
  }

  /**
   * Events go out on the next turn: the helper's `spawned` and `exit` can
   * arrive in one read, and whoever awaited spawn() listens only once its
   * continuation has run.
   */
  exited (code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode != null || this.signalCode != null) return
    this.exitCode = code
    this.signalCode = signal
    setImmediate(() => { this.emit('exit', code, signal) })
  }

  failed (message: string): void {
    setImmediate(() => { this.emit('error', new Error(message)) })
  }
}

const HELPER = fileURLToPath(new URL('../migrate/spawn-helper.js', import.meta.url))

/**
 * Starts jobs' sandboxes from a small helper process rather than from the
 * daemon. A fork copies the parent's page tables and write-protects its
 * pages, so each page the parent writes afterwards faults once: from a
 * daemon of ~200 MB a spawn cost ~9 ms of CPU and as much again in those
 * faults (a loop that writes 32 MB between spawns: 21 ms per spawn at
 * 250 MB, 0.3 ms without the spawn). The helper is a bare Node process that
 * waits between spawns. Without it (it cannot start, or died) jobs are
 * spawned directly, as before.
 */
export class JobSpawner {
  private helper?: ChildProcess
  private failed = false
  private nextId = 1
  /** jobs sent to the helper, until it says they started: who awaits each */
  private readonly started = new Map<number, (c: HelperChild) => void>()
  private readonly running = new Map<number, HelperChild>()

  async spawn (command: string, args: string[], opts: SpawnOptions): Promise<JobChild> {
    const helper = this.ensureHelper()
    if (helper == null) return this.direct(command, args, opts)
    const id = this.nextId++
    const child = new HelperChild()
    const spawned = new Promise<HelperChild>((resolve) => { this.started.set(id, resolve) })
    this.running.set(id, child)
    try {
      opts.stdio.forEach((socket, n) => { helper.send({ t: 'fd', id, n: n as 0 | 1 | 2 } satisfies ToHelper, socket) })
      helper.send({ t: 'spawn', id, command, args, cwd: opts.cwd, env: opts.env, umask: opts.umask } satisfies ToHelper)
    } catch (err) {
      // its channel closed under us: the sockets may be gone with it, so this job fails (the next gets a new helper)
      this.started.delete(id)
      this.running.delete(id)
      throw new Error(`spawn helper: ${errorMessage(err)}`)
    }
    return await spawned
  }

  close (): void {
    this.helper?.disconnect()
    this.helper = undefined
  }

  private direct (command: string, args: string[], opts: SpawnOptions): JobChild {
    const umask = process.umask(opts.umask)
    try {
      return spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: opts.stdio })
    } finally {
      process.umask(umask)
    }
  }

  private ensureHelper (): ChildProcess | undefined {
    if (this.helper != null || this.failed) return this.helper
    if (!existsSync(HELPER)) {
      this.failed = true
      log('no spawn helper at %s: jobs are spawned by the daemon', HELPER)
      return undefined
    }
    const helper = spawn(process.execPath, [HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    helper.on('message', (m: FromHelper) => { this.onMessage(m) })
    helper.once('error', (err) => { log('spawn helper: %s', errorMessage(err)) })
    helper.once('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined
      log('spawn helper exited (%s)', signal ?? code)
      // its jobs' sandboxes die with it (bubblewrap --die-with-parent); say so to whoever waits
      for (const [id, child] of this.running) {
        this.started.get(id)?.(child)
        child.exited(null, 'SIGKILL')
      }
      this.started.clear()
      this.running.clear()
    })
    // the daemon may exit while the helper waits: it never holds the daemon up
    helper.unref()
    helper.channel?.unref()
    this.helper = helper
    return helper
  }

  private onMessage (m: FromHelper): void {
    const child = this.running.get(m.id)
    if (child == null) return
    if (m.t === 'spawned') {
      if (m.pid != null) child.pid = m.pid
      this.started.get(m.id)?.(child)
      this.started.delete(m.id)
    } else if (m.t === 'error') {
      this.started.get(m.id)?.(child)
      this.started.delete(m.id)
      this.running.delete(m.id)
      child.failed(m.message)
    } else {
      this.running.delete(m.id)
      child.exited(m.code, m.signal)
    }
  }
}
