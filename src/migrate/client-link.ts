import { RunFrame, RunFrameParser, runFrameHeader, encodeJsonFrame } from '../control/frames.js'
import { openClientPipe, type ClientPipes } from '../control/direct.js'
import type { Socket } from 'node:net'

import { logger } from '@libp2p/logger'

const log = logger('kappa:migrate:client')

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

/** The control-socket side of a `run`: frames to and from the thin client. */
export class ClientLink {
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
    } catch (err) {
      log('malformed frame from the run client: %s', (err as Error).message)
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

  /** One line for the user's stderr. */
  async note (message: string): Promise<void> {
    await this.json(RunFrame.NOTE, { message })
  }

  end (): void {
    if (!this.closed) this.socket.end()
  }
}

