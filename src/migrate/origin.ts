import { createReadStream } from 'node:fs'
import { join, resolve, isAbsolute } from 'node:path'
import { lstat } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Frame, type Job } from '../wire/migrate.js'
import { FrameChannel, framePieces } from './channel.js'
import { collectInputs, IncomingFile, insideCwd, safeRelative } from './files.js'
import { inspectExecutable, type ExecutableInfo } from './exe.js'
import { findExecutable } from '../host/requirements.js'
import { RunFrame, RunFrameParser, runFrameHeader, encodeJsonFrame } from '../control/frames.js'
import { UserError, errorMessage } from '../errors.js'
import { dialReason } from '../pairing/service.js'
import { label } from '../names.js'
import { peerIdOf } from '../pairing/invites.js'
import { connectBulk, tcpHost } from '../bulk/index.js'
import { openClientPipe, type ClientPipes } from '../control/direct.js'
import { BULK_HELLO_TIMEOUT_MS, MAX_EXE_BYTES, MIGRATE_CHUNK_BYTES, MIGRATE_SETUP_TIMEOUT_MS, PROTOCOL_MIGRATE, TICKET_TTL_MS } from '../constants.js'
import type { MigrationComponents, MigrationCounters, JobView, RunParams } from './index.js'
import type { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'

/** Output queued for a `run` client before the relay waits for it to catch up. */
const CLIENT_BUFFER_BYTES = 4 * 1024 * 1024
/** Output queued for a pipe the daemon writes itself: little (a pipe holds 64 KiB), so buffers do not live long. */
const PIPE_BUFFER_BYTES = 256 * 1024

async function drainedOrClosed (socket: Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

/** Thrown before the job started: the client runs it locally (unless --remote). */
class BeforeStart extends Error {}

/** The control-socket side of a `run`: frames to and from the thin client. */
class ClientLink {
  private readonly parsed: Array<{ type: RunFrame, payload: Buffer }> = []
  private readonly parser = new RunFrameParser((type, payload) => { this.parsed.push({ type, payload }) })
  onFrame: (type: RunFrame, payload: Buffer) => Promise<void> | void = () => {}
  closed = false
  private readonly closeListeners: Array<() => void> = []
  private readonly pipes = new Map<1 | 2, Socket>()
  private readonly brokenPipes = new Set<1 | 2>()
  private onBroken: (fd: 1 | 2) => void = () => {}

  constructor (readonly socket: Socket, rest: Buffer) {
    socket.on('data', (chunk: Buffer) => { void this.receive(chunk) })
    socket.on('close', () => { this.closed = true; for (const l of this.closeListeners) l() })
    socket.on('error', () => {})
    if (rest.length > 0) queueMicrotask(() => { void this.receive(rest) })
  }

  private async receive (chunk: Buffer): Promise<void> {
    try {
      this.parser.push(chunk)
    } catch {
      this.socket.destroy()
      return
    }
    const frames = this.parsed.splice(0)
    for (const f of frames) {
      // a slow target pauses the client's stdin here
      this.socket.pause()
      try { await this.onFrame(f.type, f.payload) } finally { if (!this.closed) this.socket.resume() }
    }
  }

  onClose (listener: () => void): void {
    if (this.closed) listener()
    else this.closeListeners.push(listener)
  }

  /** Output for the client; waits only when a few MiB are queued, so the two ends do not ping-pong on every chunk. */
  async send (type: RunFrame, payload?: Uint8Array): Promise<void> {
    if (this.closed) return
    // header and payload as they are: no copy of the payload
    this.socket.cork()
    this.socket.write(runFrameHeader(type, payload?.byteLength ?? 0))
    if (payload != null && payload.byteLength > 0) this.socket.write(payload)
    this.socket.uncork()
    if (this.socket.writableLength > CLIENT_BUFFER_BYTES) await drainedOrClosed(this.socket)
  }

  /**
   * The job's stdout (1) or stderr (2): straight into the client's pipe when
   * the daemon could open it, else through the client. `onBroken` hears once
   * that the reader of that pipe has gone.
   */
  openPipes (pipes: ClientPipes | undefined, onBroken: (fd: 1 | 2) => void): void {
    this.onBroken = onBroken
    if (pipes == null) return
    for (const fd of [1, 2] as const) {
      const pipe = openClientPipe(pipes, fd)
      if (pipe == null) continue
      pipe.on('error', (err: NodeJS.ErrnoException) => {
        pipe.destroy()
        if (err.code === 'EPIPE') this.broken(fd)
      })
      this.pipes.set(fd, pipe)
    }
  }

  async output (fd: 1 | 2, pieces: Uint8Array[]): Promise<void> {
    if (this.brokenPipes.has(fd)) return
    const pipe = this.pipes.get(fd)
    if (pipe == null) {
      for (const p of pieces) await this.send(fd === 1 ? RunFrame.STDOUT : RunFrame.STDERR, p)
      return
    }
    if (pipe.destroyed) return
    pipe.cork()
    for (const p of pieces) pipe.write(p)
    pipe.uncork()
    if (pipe.writableLength > PIPE_BUFFER_BYTES) await drainedOrClosed(pipe)
  }

  broken (fd: 1 | 2): void {
    if (this.brokenPipes.has(fd)) return
    this.brokenPipes.add(fd)
    this.onBroken(fd)
  }

  /** Everything written into the client's pipes has reached them, and they are closed here (their reader sees EOF once the client exits). */
  async closePipes (): Promise<void> {
    await Promise.all([...this.pipes.values()].map(async (pipe) => {
      if (pipe.destroyed) return
      await new Promise<void>((resolve) => {
        pipe.once('close', () => { resolve() })
        pipe.end()
      })
    }))
    this.pipes.clear()
  }

  async json (type: RunFrame, value: unknown): Promise<void> {
    if (this.closed) return
    this.socket.write(encodeJsonFrame(type, value))
  }

  end (): void {
    if (!this.closed) this.socket.end()
  }
}

/**
 * The origin side of a migration: choose the target (probe, --peer), send the
 * job, relay stdio and signals between the thin client and the target, write
 * output files back into the cwd.
 */
export class JobSender {
  readonly running = new Map<string, JobView>()
  private seq = 0
  /**
   * Placement decisions are taken one at a time: each probe then sees the
   * jobs the previous ones placed (pending work here and at the targets),
   * and a burst (make -j30) is spread like list scheduling instead of all
   * reading the same values at once. A probe takes milliseconds on a LAN.
   */
  private placing: Promise<unknown> = Promise.resolve()

  private async oneAtATime<T> (fn: () => Promise<T>): Promise<T> {
    const result = this.placing.then(fn)
    this.placing = result.catch(() => {})
    return await result
  }

  constructor (private readonly components: MigrationComponents, private readonly counters: MigrationCounters) {}

  async serve (params: RunParams, socket: Socket, rest: Buffer): Promise<void> {
    const client = new ClientLink(socket, rest)
    const remoteOnly = params.mode === 'remote'
    const id = `out-${++this.seq}`
    try {
      await this.migrate(params, client, id)
    } catch (err) {
      if (err instanceof BeforeStart) {
        if (remoteOnly) {
          await client.json(RunFrame.ERROR, { message: err.message, code: 1 })
        } else {
          this.components.onLocalPlacement?.()
          this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'local', reason: err.message })
          await client.json(RunFrame.LOCAL, { reason: err.message, quiet: false })
        }
      } else {
        await client.json(RunFrame.ERROR, { message: errorMessage(err), code: 255 })
      }
    } finally {
      this.running.delete(id)
      client.end()
    }
  }

  private async migrate (params: RunParams, client: ClientLink, id: string): Promise<void> {
    const { overlay, trust, access } = this.components
    const exePath = params.argv[0].includes('/') ? resolve(params.cwd, params.argv[0]) : findExecutable(params.argv[0], params.path)
    if (exePath == null) {
      // let the local shell say "command not found" the usual way
      await client.json(RunFrame.LOCAL, { reason: `${params.argv[0]}: command not found`, quiet: true })
      return
    }
    let exe: ExecutableInfo
    let inputs
    try {
      exe = await inspectExecutable(exePath)
      if (exe.size > MAX_EXE_BYTES) throw new UserError(`${exePath} is over the ${MAX_EXE_BYTES / 2 ** 20} MiB executable limit`)
      inputs = await collectInputs(params.cwd, params.argv.slice(1), params.inputs)
      for (const o of params.outputs) if (insideCwd(params.cwd, o) == null) throw new UserError(`--output ${o} is not inside the current directory`)
    } catch (err) {
      throw new BeforeStart(errorMessage(err))
    }

    // where: a named peer, or Algorithm II
    let target: string
    let addrs: string[] = []
    let ticket: Uint8Array = new Uint8Array(0)
    let ticketTtlMs = 0
    let targetSysmetric: number | undefined
    let path: string[] = []
    let early: { to: string, stream: Promise<Stream> } | undefined
    let opened: Promise<Stream> | undefined
    if (params.mode === 'peer') {
      const peer = trust.find(params.peer ?? '')
      if (peer == null) throw new BeforeStart(`--peer ${params.peer ?? ''}: not a paired peer`)
      target = peer.id
      addrs = peer.addrs
    } else {
      const outcome = await this.oneAtATime(async () => {
        const o = await overlay.probe({ arch: exe.arch, interpreter: exe.interpreter }, params.mode === 'remote', (to) => {
          // the job's stream opens while the probe is out: the neighbour asked is usually the target
          const connection = this.components.libp2p.getConnections(peerIdFromString(to))[0]
          if (connection != null) early = { to, stream: connection.newStream(PROTOCOL_MIGRATE, { signal: AbortSignal.timeout(MIGRATE_SETUP_TIMEOUT_MS), negotiateFully: false }) }
        })
        if (o.local && params.mode !== 'remote') this.components.onLocalPlacement?.()
        return o
      })
      const spare = early as { to: string, stream: Promise<Stream> } | undefined
      if (spare != null && (outcome.local || spare.to !== outcome.target.id)) {
        // went elsewhere: nothing was written on it, the neighbour never hears of it
        void spare.stream.then(async (s) => { await s.close() }).catch(() => {})
      } else if (spare != null) {
        opened = spare.stream
      }
      if (outcome.local) {
        if (params.mode === 'remote') throw new BeforeStart(`no node to run it on (${outcome.reason})`)
        this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'local', reason: outcome.reason, own: outcome.own, best: outcome.best, sysmetric: outcome.target?.sysmetric, target: outcome.target?.id })
        await client.json(RunFrame.LOCAL, { reason: outcome.reason, quiet: true })
        return
      }
      target = outcome.target.id
      addrs = outcome.target.addrs
      targetSysmetric = outcome.target.sysmetric
      path = outcome.path
      ticket = outcome.ticket
      ticketTtlMs = outcome.ticketTtlMs
    }
    const who = label(target, trust.get(target)?.alias)
    this.running.set(id, { id, peer: target, argv0: params.argv[0], startedAt: Date.now() })

    // before the job starts, any failure means "run it here instead"
    const setup = AbortSignal.timeout(MIGRATE_SETUP_TIMEOUT_MS)
    let channel: FrameChannel
    try {
      const stream = await (opened ?? this.openStream(target, addrs, ticketTtlMs, setup))
      // the target's bulk port is on the address our connection reached it at
      const host = this.components.libp2p.getConnections(peerIdFromString(target)).map(c => tcpHost(c.remoteAddr)).find(h => h != null)
      channel = new FrameChannel(stream, host != null && this.components.bulk != null
        ? { connect: async (offer) => await connectBulk(host, offer, AbortSignal.timeout(BULK_HELLO_TIMEOUT_MS)) }
        : {})
    } catch (err) {
      throw new BeforeStart(`could not reach ${who}: ${dialReason(err)}`)
    }
    let started = false
    try {
      const job: Job = {
        ticket: ticket as Uint8Array<ArrayBuffer>,
        exeSha256: exe.sha256 as Uint8Array<ArrayBuffer>,
        exeSize: BigInt(exe.size),
        exePath,
        argv: params.argv,
        cwd: params.cwd,
        env: Object.entries(params.env).map(([name, value]) => ({ name, value })),
        inputs: inputs.map(f => ({ path: f.path, size: BigInt(f.size), mode: f.mode })),
        outputs: params.outputs.map(o => insideCwd(params.cwd, o) as string),
        arch: exe.arch ?? '',
        interpreter: exe.interpreter ?? '',
        stdin: params.stdin,
        // nothing to send after the request: a target that has the executable starts at once
        eager: inputs.length === 0
      }
      await channel.write({ type: Frame.Type.REQUEST, job }, setup)
      const answer = await channel.read(setup)
      if (answer.type === Frame.Type.REFUSE) throw new BeforeStart(`${who} refused: ${answer.message}`)
      if (answer.type !== Frame.Type.ACCEPT) throw new BeforeStart(`${who} answered ${answer.type}`)
      if (answer.needExe) {
        for await (const chunk of createReadStream(exePath, { highWaterMark: MIGRATE_CHUNK_BYTES })) {
          await channel.writeData(Frame.Type.DATA, [chunk as Buffer], { signal: setup })
          this.counters.exeBytesSent += (chunk as Buffer).length
        }
      }
      for (const f of inputs) {
        await channel.write({ type: Frame.Type.FILE, file: { path: f.path, size: BigInt(f.size), mode: f.mode } }, setup)
        for await (const chunk of createReadStream(join(params.cwd, f.path), { highWaterMark: MIGRATE_CHUNK_BYTES })) {
          await channel.writeData(Frame.Type.DATA, [chunk as Buffer], { signal: setup })
        }
      }
      if (answer.needExe || !job.eager) await channel.write({ type: Frame.Type.START }, setup)
      const first = await channel.read(setup)
      if (first.type === Frame.Type.REFUSE) throw new BeforeStart(`${who} refused: ${first.message}`)
      if (first.type !== Frame.Type.STARTED) throw new BeforeStart(`${who} did not start the job`)
      started = true
      this.counters.jobsOut++
      this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'remote', target, alias: trust.get(target)?.alias, path, sysmetric: targetSysmetric })
      await client.json(RunFrame.STARTED, { target, alias: trust.get(target)?.alias ?? null, jobId: first.jobId })
      await this.relay(channel, client, params, who)
    } catch (err) {
      channel.abort(err instanceof Error ? err : new Error(String(err)))
      if (err instanceof BeforeStart || started) throw err
      throw new BeforeStart(`${who}: ${errorMessage(err)}`)
    } finally {
      if (!trust.has(target)) access.unexpect(target)
    }

  }

  private async openStream (target: string, addrs: string[], ticketTtlMs: number, signal: AbortSignal): Promise<Stream> {
    const { libp2p, access } = this.components
    const peerId = peerIdFromString(target)
    const existing = libp2p.getConnections(peerId)[0]
    if (existing != null) return await existing.newStream(PROTOCOL_MIGRATE, { signal, negotiateFully: false })
    // a target found through the overlay: let our gater dial it while the ticket lives
    access.expect(target, Math.max(ticketTtlMs, TICKET_TTL_MS))
    const dialAddrs = addrs.map(a => multiaddr(a)).map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${target}`) : a)
    return await libp2p.dialProtocol(dialAddrs.length > 0 ? dialAddrs : peerId, PROTOCOL_MIGRATE, { signal, negotiateFully: false })
  }

  /** The job runs: stdio and signals both ways until EXIT; output files land in the cwd. */
  private async relay (channel: FrameChannel, client: ClientLink, params: RunParams, who: string): Promise<void> {
    let exited = false
    client.onFrame = async (type, payload) => {
      if (exited) return
      if (type === RunFrame.STDIN) await channel.writeData(Frame.Type.STDIN, [payload]).catch(() => {})
      else if (type === RunFrame.STDIN_EOF) await channel.write({ type: Frame.Type.STDIN_EOF }).catch(() => {})
      else if (type === RunFrame.SIGNAL) await channel.write({ type: Frame.Type.SIGNAL, signal: payload.toString('utf8') }).catch(() => {})
      else if (type === RunFrame.OUTPUT_CLOSED) client.broken(payload.toString('utf8') === '2' ? 2 : 1)
    }
    // the job's output goes straight into the client's pipes where it can; a reader that goes away is a broken pipe there
    client.openPipes(params.pipes, (fd) => { void channel.write({ type: Frame.Type.CLOSE_OUTPUT, code: fd }).catch(() => {}) })
    // the client went away (killed): reset the stream, the target kills the job
    client.onClose(() => { if (!exited) channel.abort(new Error('client gone')) })
    let incoming: IncomingFile | undefined
    try {
      for (;;) {
        let frame: Frame
        try {
          frame = await channel.read()
        } catch (err) {
          if (client.closed) return
          throw new Error(`lost the connection to ${who} while the job was running (${errorMessage(err)})`)
        }
        switch (frame.type) {
          case Frame.Type.STDOUT: await client.output(1, framePieces(frame)); break
          case Frame.Type.STDERR: await client.output(2, framePieces(frame)); break
          case Frame.Type.FILE: {
            if (incoming != null) throw new Error('output file cut short')
            const rel = safeRelative(frame.file?.path ?? '')
            const path = join(params.cwd, rel)
            // never write through a symlink planted in the cwd
            const st = await lstat(path).catch(() => undefined)
            if (st?.isSymbolicLink() === true || st?.isDirectory() === true) throw new Error(`output ${rel}: a symlink or directory is in the way`)
            incoming = await IncomingFile.create(path, Number(frame.file?.size ?? 0n), frame.file?.mode ?? 0o644)
            if (incoming.complete) { await incoming.finish(); incoming = undefined }
            break
          }
          case Frame.Type.DATA: {
            if (incoming == null) throw new Error('unexpected data')
            await incoming.write(frame.data)
            if (incoming.complete) { await incoming.finish(); incoming = undefined }
            break
          }
          case Frame.Type.EXIT:
            exited = true
            await client.closePipes()
            await client.json(RunFrame.EXIT, { code: frame.code, signal: frame.signal === '' ? null : frame.signal })
            await channel.close(AbortSignal.timeout(5000)).catch(() => {})
            return
          case Frame.Type.ERROR:
            throw new Error(`${who}: ${frame.message}`)
          default:
            throw new Error(`unexpected frame ${frame.type} from ${who}`)
        }
      }
    } finally {
      await incoming?.discard()
      await client.closePipes()
    }
  }
}

export function absoluteCwd (cwd: unknown): string {
  if (typeof cwd !== 'string' || !isAbsolute(cwd)) throw new UserError('run needs an absolute cwd')
  return cwd
}
