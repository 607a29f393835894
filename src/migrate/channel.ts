import { asError } from '../errors.js'
import { Uint8ArrayList } from 'uint8arraylist'
import { Frame } from '../wire/migrate.js'
import { BULK_MIN_BYTES, BULK_SWITCH_TIMEOUT_MS, MIGRATE_MAX_FRAME_BYTES, TREE_FRAME_BYTES } from '../constants.js'
import { MAX_EXTRA_FILES, MAX_WORKSPACE_FILES, MAX_CHANGE_FILES } from '../workspace/index.js'
import type { Stream } from '@libp2p/interface'
import type { BulkConnection, BulkOfferData, BulkOfferHandle } from '../bulk/index.js'
import { debugLogger, logged } from '../debug.js'
import { serializer } from '../serialize.js'

const debug = debugLogger('migrate:channel')

/** A frame to send: only `type` is required; `data` may be any byte view (a Buffer from a pipe). */
export type FrameInput = Omit<Partial<Frame>, 'data'> & Pick<Frame, 'type'> & { data?: Uint8Array }

/** Above this much unread data the sources are paused (yamux stops granting window); below LOW they resume. */
const HIGH_WATER = 4 * 1024 * 1024
const LOW_WATER = 1024 * 1024
/**
 * A bulk connection pauses at once (no window to wait out), so it keeps far
 * less queued: buffers held for long outlive the young generation and make
 * the garbage collector scan the whole heap, over and over, at full speed.
 */
const BULK_HIGH_WATER = 1024 * 1024
const BULK_LOW_WATER = 256 * 1024
/**
 * Frames written in one turn of the event loop go out as one stream message
 * (one yamux frame, one Noise message, one window update back) up to this
 * many bytes: a job's set-up and its end are several small frames each.
 */
const CORK_MAX_BYTES = 64 * 1024
/** A paused yamux stream still receives up to its window (16 MiB): room for that. */
const STREAM_READ_BUFFER = 32 * 1024 * 1024
const DECODE_LIMITS = {
  limits: {
    job: { argv: 65_536, env: 8192, extras: MAX_EXTRA_FILES, outputs: 1000 },
    directories: MAX_WORKSPACE_FILES,
    missingBlobs: MAX_WORKSPACE_FILES + MAX_EXTRA_FILES + 1,
    missingDirectories: MAX_WORKSPACE_FILES,
    changes: { changes: MAX_CHANGE_FILES }
  }
}

const FRAME_TYPES = new Set<unknown>(Object.values(Frame.Type).filter(v => typeof v === 'string'))

/** A frame as decoded from a peer: type 0 (UNSPECIFIED, what an empty frame decodes as) and unknown types are refused. */
export function decodeFrame (bytes: Uint8Array | Uint8ArrayList): Frame {
  const frame = Frame.decode(bytes, DECODE_LIMITS)
  if (frame.type === Frame.Type.UNSPECIFIED || !FRAME_TYPES.has(frame.type)) throw new Error(`frame of unknown type ${String(frame.type)}`)
  return frame
}

export class EndOfStreamError extends Error {
  override name = 'EndOfStreamError'
}

/** How a channel may move to a bulk connection (src/bulk); without it, everything stays on the stream. */
export interface BulkUpgrade {
  /** target side: a fresh offer, made once the job has moved BULK_MIN_BYTES */
  offer?: () => BulkOfferHandle
  /** origin side: take the target's offer */
  connect?: (offer: BulkOfferData) => Promise<BulkConnection>
}

/**
 * A job's frames over one libp2p stream, both directions at once, as
 * varint-length-prefixed protobuf; optionally moved, one direction at a time,
 * to a bulk connection (each side announces SWITCH on the stream, then sends
 * the rest of its frames there, so order is kept). Frames are decoded as they
 * arrive; reading applies backpressure: a consumer that falls behind pauses
 * the sources, so a fast producer on the other side waits instead of filling
 * memory. Writes are queued in order and wait for the transport to drain.
 */
export class FrameChannel {
  private readonly streamBuffer = new Uint8ArrayList()
  private readonly frames: Frame[] = []
  private queuedBytes = 0
  /** frames that came over the bulk connection before the remote's SWITCH was read from the stream */
  private early: Frame[] = []
  private earlyBytes = 0
  private readingBulk = false
  private streamEnded = false
  private bulkEnded = false
  private failure?: Error
  private wake?: () => void
  private readonly writing = serializer(debug)
  private bulk?: BulkConnection
  private writingBulk = false
  private bytesMoved = 0
  private offered?: BulkOfferHandle
  private connecting = false
  private switchTimer?: NodeJS.Timeout
  private finished = false
  private readonly closeListeners = new Set<() => void>()
  /** frames not yet handed to the stream, and the flush at the end of this turn */
  private corked?: Uint8ArrayList
  private flushing?: NodeJS.Immediate

  constructor (readonly stream: Stream, private readonly upgrade: BulkUpgrade = {}) {
    stream.maxReadBufferLength = STREAM_READ_BUFFER
    stream.addEventListener('message', (evt) => {
      this.streamBuffer.append(evt.data)
      this.decodeStream()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.streamEnded = true; this.wake?.() })
    stream.addEventListener('close', (evt) => {
      this.streamEnded = true
      if (evt.error != null) this.fail(evt.error)
      this.closed()
      this.wake?.()
    })
  }

  /** Which transport each direction is on (for the job log). */
  get transport (): { send: 'stream' | 'bulk', receive: 'stream' | 'bulk' } {
    return { send: this.writingBulk ? 'bulk' : 'stream', receive: this.readingBulk ? 'bulk' : 'stream' }
  }

  /** Either transport closed (the peer went away, or the job is over); returns a function that removes the listener. */
  onClose (listener: () => void): () => void {
    this.closeListeners.add(listener)
    return () => { this.closeListeners.delete(listener) }
  }

  private closed (): void {
    for (const l of [...this.closeListeners]) l()
    this.closeListeners.clear()
  }

  private fail (err: Error): void {
    this.failure ??= err
    this.wake?.()
  }

  private decodeStream (): void {
    try {
      for (;;) {
        const body = takeFrame(this.streamBuffer)
        if (body == null) return
        const frame = decodeFrame(body)
        if (this.readingBulk) throw new Error('frame on the stream after the peer switched to its bulk connection')
        if (frame.type === Frame.Type.BULK) this.takeOffer(frame.bulk)
        else if (frame.type === Frame.Type.SWITCH) this.remoteSwitched()
        else this.enqueue(frame)
      }
    } catch (err) {
      this.fail(asError(err))
      this.stream.abort(this.failure as Error)
    }
  }

  private enqueue (frame: Frame): void {
    this.frames.push(frame)
    const size = frameSize(frame)
    this.queuedBytes += size
    this.moved(size)
    // deferred: pausing inside the dispatch that resume() triggers would be undone by
    // resume()'s own window update that follows it, and the sender would not stop
    if (this.queuedBytes > BULK_HIGH_WATER) queueMicrotask(() => { this.maybePause() })
    this.wake?.()
  }

  private maybePause (): void {
    if (this.queuedBytes > BULK_HIGH_WATER) this.bulk?.pause()
    if (this.queuedBytes > HIGH_WATER && this.stream.readStatus === 'readable') this.stream.pause()
  }

  private maybeResume (): void {
    if (this.queuedBytes < BULK_LOW_WATER) this.bulk?.resume()
    if (this.queuedBytes < LOW_WATER && this.stream.readStatus === 'paused') this.stream.resume()
  }

  /** Counts the job's traffic; a target offers its bulk port once a job proves big enough. */
  private moved (bytes: number): void {
    this.bytesMoved += bytes
    if (this.bytesMoved < BULK_MIN_BYTES || this.offered != null || this.upgrade.offer == null || this.finished) return
    const handle = this.upgrade.offer()
    this.offered = handle
    void this.enqueueWrite(async () => { await this.sendOnStream(encodeFrame({ type: Frame.Type.BULK, bulk: handle.offer as Frame['bulk'] })) }).catch(logged(debug, 'announcing the bulk connection'))
    handle.connection.then((conn) => { this.attach(conn) }, () => {})
  }

  /** Origin side: the target offered its bulk port; connect in the background, stay on the stream meanwhile. */
  private takeOffer (offer: BulkOfferData | undefined): void {
    if (offer == null || this.upgrade.connect == null || this.connecting || this.bulk != null || this.finished) return
    this.connecting = true
    this.upgrade.connect(offer).then((conn) => { this.attach(conn) }, () => {})
  }

  /** A proved bulk connection: read what comes over it, and switch our sending direction to it. */
  private attach (conn: BulkConnection): void {
    if (this.finished || this.bulk != null) {
      conn.destroy()
      return
    }
    this.bulk = conn
    conn.onRecords((record) => {
      let frame: Frame
      try {
        frame = decodeRecord(record)
      } catch (err) {
        this.fail(asError(err))
        conn.destroy()
        return
      }
      if (this.readingBulk) {
        this.enqueue(frame)
      } else {
        // held apart: they cannot be read before the SWITCH that the stream still has to bring
        this.early.push(frame)
        this.earlyBytes += frameSize(frame)
        if (this.earlyBytes > BULK_HIGH_WATER) conn.pause()
      }
    })
    conn.onEnd(() => { this.bulkEnded = true; this.wake?.() })
    conn.onClose((err) => {
      this.bulkEnded = true
      // gone before the job was over: what it still carried is lost
      if (!this.finished) this.fail(err ?? new EndOfStreamError('bulk connection closed'))
      this.closed()
      this.wake?.()
    })
    if (this.switchTimer != null) clearTimeout(this.switchTimer)
    void this.enqueueWrite(async () => {
      await this.sendOnStream(encodeFrame({ type: Frame.Type.SWITCH }))
      // the SWITCH leaves before anything goes over the bulk connection
      await this.flush()
      this.writingBulk = true
    }).catch(logged(debug, 'a frame the stream could not take'))
    this.wake?.()
  }

  /** The peer's frames continue on the bulk connection (which may still be on its way here). */
  private remoteSwitched (): void {
    this.readingBulk = true
    const early = this.early
    this.early = []
    this.earlyBytes = 0
    for (const f of early) this.enqueue(f)
    if (this.bulk == null) {
      this.switchTimer = setTimeout(() => { this.fail(new Error('the peer switched to a bulk connection that never came')) }, BULK_SWITCH_TIMEOUT_MS)
      this.switchTimer.unref()
    }
  }

  async read (signal?: AbortSignal): Promise<Frame> {
    for (;;) {
      const frame = this.frames.shift()
      if (frame != null) {
        this.queuedBytes -= frameSize(frame)
        this.maybeResume()
        return frame
      }
      if (this.failure != null) throw this.failure
      if (this.readingBulk ? this.bulkEnded : this.streamEnded) throw new EndOfStreamError('stream ended')
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(signal?.reason) }
        this.wake = () => {
          this.wake = undefined
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /** Queue a frame; resolves once it is handed to the transport (after a drain if needed). */
  async write (frame: FrameInput, signal?: AbortSignal): Promise<void> {
    await this.send(encodeFrame(frame), signal)
  }

  /**
   * A data frame (STDOUT, STDIN, DATA…) from several buffers, sent without
   * joining them. `borrowed`: the caller reuses the buffers once this
   * resolves (a bulk connection seals them at once; the stream, which may
   * hold on to what it was given, gets a copy).
   */
  async writeData (type: Frame.Type, pieces: readonly Uint8Array[], opts: { signal?: AbortSignal, borrowed?: boolean } = {}): Promise<void> {
    await this.send(encodeDataFrame(type, pieces), opts.signal, opts.borrowed === true)
  }

  private async send (pieces: Uint8Array[], signal?: AbortSignal, borrowed = false): Promise<void> {
    let length = 0
    for (const p of pieces) length += p.byteLength
    await this.enqueueWrite(async () => {
      this.moved(length)
      if (this.writingBulk && this.bulk != null) {
        if (!this.bulk.send(pieces)) await this.bulk.drained(signal)
      } else {
        await this.sendOnStream(borrowed ? [Buffer.concat(pieces, length)] : pieces, signal)
      }
    })
  }

  private async sendOnStream (pieces: Uint8Array[], signal?: AbortSignal): Promise<void> {
    let length = 0
    for (const p of pieces) length += p.byteLength
    const corked = this.corked ??= new Uint8ArrayList()
    corked.append(varint(length), ...pieces)
    if (corked.byteLength >= CORK_MAX_BYTES) {
      await this.flush(signal)
      return
    }
    // in order: a flush queued now runs after every write queued before it
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined
      void this.enqueueWrite(async () => { await this.flush() }).catch(logged(debug, 'a frame the stream could not take'))
    })
  }

  /** Hands the corked frames to the stream; waits for it to drain if it is full. */
  private async flush (signal?: AbortSignal): Promise<void> {
    const corked = this.corked
    this.corked = undefined
    if (corked == null || corked.byteLength === 0) return
    if (!this.stream.send(corked)) await this.stream.onDrain({ signal })
  }

  private async enqueueWrite (fn: () => Promise<void>): Promise<void> {
    await this.writing(fn)
  }

  /** Our side is done: flush, end the bulk connection, close the stream. */
  async close (signal?: AbortSignal): Promise<void> {
    await this.enqueueWrite(async () => { await this.flush(signal) })
    await this.writing.settled()
    this.finish()
    await this.bulk?.end()
    await this.stream.close({ signal })
  }

  abort (err: Error): void {
    this.corked = undefined
    this.finish()
    this.stream.abort(err)
    this.bulk?.destroy(err)
  }

  private finish (): void {
    this.finished = true
    if (this.flushing != null) clearImmediate(this.flushing)
    this.flushing = undefined
    this.offered?.cancel()
    if (this.switchTimer != null) clearTimeout(this.switchTimer)
  }
}

/** Data frames decoded from several pieces keep them: their `data` is joined only if someone asks for it. */
const pieced = new WeakMap<Frame, { pieces: Uint8Array[], size: number }>()

/** The data of a frame as the pieces it arrived in (one copy fewer than `frame.data` for output). */
export function framePieces (frame: Frame): Uint8Array[] {
  return pieced.get(frame)?.pieces ?? [frame.data]
}

function frameSize (frame: Frame): number {
  return pieced.get(frame)?.size ?? frame.data.byteLength
}

/**
 * One bulk record (a frame in the pieces it was decrypted in). A data frame
 * as `encodeDataFrame` writes it (type field, then the data field to the
 * end) keeps its pieces; anything else is joined and decoded as protobuf.
 */
function decodeRecord (pieces: Buffer[]): Frame {
  if (pieces.length === 1) return decodeFrame(pieces[0])
  const first = pieces[0]
  const header = first.length >= 16 ? dataFrameHeader(first) : undefined
  let total = 0
  for (const p of pieces) total += p.length
  if (header == null || header.dataStart + header.length !== total) return decodeFrame(Buffer.concat(pieces, total))
  const frame = decodeFrame(first.subarray(0, header.typeEnd))
  const data = [first.subarray(header.dataStart), ...pieces.slice(1)].filter(p => p.length > 0)
  let joined: Uint8Array | undefined
  Object.defineProperty(frame, 'data', { get: () => (joined ??= Buffer.concat(data, header.length)), enumerable: true })
  pieced.set(frame, { pieces: data, size: header.length })
  return frame
}

/** Where the type field ends and the data starts, if `b` begins with [type field][field 2, length-delimited]. */
function dataFrameHeader (b: Buffer): { typeEnd: number, dataStart: number, length: number } | undefined {
  let i = 0
  if (b[i] === 0x08) {
    i++
    while (i < 6 && (b[i] & 0x80) !== 0) i++
    i++
  }
  const typeEnd = i
  if (b[i++] !== 0x12) return undefined
  let length = 0
  let shift = 0
  for (;;) {
    if (i >= b.length || shift > 28) return undefined
    const byte = b[i++]
    length += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) break
    shift += 7
  }
  return { typeEnd, dataStart: i, length }
}

/** One whole varint-prefixed frame body from the front of `buffer` (consumed), or undefined. */
function takeFrame (buffer: Uint8ArrayList): Uint8ArrayList | undefined {
  let length = 0
  let shift = 0
  let offset = 0
  for (;;) {
    if (offset >= buffer.byteLength) return undefined
    const byte = buffer.get(offset++)
    length += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) break
    shift += 7
    if (shift > 28) throw new Error('frame length prefix too long')
  }
  if (length > MIGRATE_MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes is over the ${MIGRATE_MAX_FRAME_BYTES} limit`)
  if (buffer.byteLength < offset + length) return undefined
  const body = buffer.sublist(offset, offset + length)
  buffer.consume(offset + length)
  return body
}

function encodeFrame (frame: FrameInput): Uint8Array[] {
  return [Frame.encode(frame as unknown as Frame)]
}

/** The encoded `type` field of each frame type (what protobuf writes before the data field). */
const typeFields = new Map<Frame.Type, Uint8Array>()

/**
 * Frame{type, data} as protobuf writes it (the type field, then field 2,
 * length-delimited), with the data left in its own buffers instead of
 * copied into one.
 */
function encodeDataFrame (type: Frame.Type, pieces: readonly Uint8Array[]): Uint8Array[] {
  let typeField = typeFields.get(type)
  if (typeField == null) {
    typeField = Frame.encode({ type } as unknown as Frame)
    typeFields.set(type, typeField)
  }
  let length = 0
  for (const p of pieces) length += p.byteLength
  if (length === 0) return [typeField]
  return [typeField, Uint8Array.of(0x12, ...varint(length)), ...pieces.filter(p => p.byteLength > 0)]
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** Directory messages in TREE frames of about TREE_FRAME_BYTES each. */
export function treeFrames (messages: Uint8Array[]): Uint8Array[][] {
  const frames: Uint8Array[][] = []
  let current: Uint8Array[] = []
  let size = 0
  for (const m of messages) {
    if (size + m.byteLength > TREE_FRAME_BYTES && current.length > 0) {
      frames.push(current)
      current = []
      size = 0
    }
    current.push(m)
    size += m.byteLength
  }
  if (current.length > 0) frames.push(current)
  return frames
}
