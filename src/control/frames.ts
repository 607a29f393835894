/**
 * Frames on the control socket once a `run` request line is sent: the job's
 * stdio, signals and outcome between the thin client and its daemon.
 * Each frame: type (1 byte), payload length (4 bytes, big-endian), payload.
 */
export enum RunFrame {
  // client → daemon
  STDIN = 1,
  STDIN_EOF = 2,
  SIGNAL = 3,
  OUTPUT_CLOSED = 4, // '1' or '2': the reader of that output went away (a broken pipe)
  LOCAL_EXIT = 5, // JSON {code, signal, durationMs}: how the job the daemon sent back (LOCAL) ended here
  // daemon → client
  STARTED = 10, // JSON {target, path}
  STDOUT = 11,
  STDERR = 12,
  EXIT = 13, // JSON {code, signal}
  LOCAL = 14, // JSON {reason, quiet}: run it here yourself
  ERROR = 15, // JSON {message, code}: the job failed (after it started: code 255)
  PROGRESS = 16, // JSON {sentBytes, totalBytes, blobs}: a first sync of the workspace is under way
  NOTE = 17 // JSON {message}: one line for the user's stderr (e.g. a file changed here while the job ran)
}

export const RUN_FRAME_HEADER = 5
export const RUN_FRAME_MAX = 4 * 1024 * 1024

export function runFrameHeader (type: RunFrame, length: number): Buffer {
  const header = Buffer.allocUnsafe(RUN_FRAME_HEADER)
  header.writeUInt8(type, 0)
  header.writeUInt32BE(length, 1)
  return header
}

export function encodeRunFrame (type: RunFrame, payload: Uint8Array = new Uint8Array(0)): Buffer {
  return Buffer.concat([runFrameHeader(type, payload.length), payload])
}

export function encodeJsonFrame (type: RunFrame, value: unknown): Buffer {
  return encodeRunFrame(type, Buffer.from(JSON.stringify(value)))
}

/**
 * Incremental parser: feed socket bytes cut anywhere, get whole frames. The
 * payloads of the types in `streamed` are handed out piece by piece as they
 * arrive instead (`onPiece`, which must use the bytes before it returns: the
 * buffer may be a reused read buffer), so output is neither joined nor held
 * back; every other payload is copied out whole.
 */
export class RunFrameParser {
  private readonly header = Buffer.alloc(RUN_FRAME_HEADER)
  private headerFill = 0
  private type = RunFrame.STDIN
  private remaining = -1
  private pieces: Buffer[] = []
  private streaming = false

  constructor (
    private readonly onFrame: (type: RunFrame, payload: Buffer) => void,
    private readonly streamed: ReadonlySet<RunFrame> = new Set(),
    private readonly onPiece: (type: RunFrame, piece: Buffer) => void = () => {}
  ) {}

  /** Throws on a frame over RUN_FRAME_MAX. `copy`: the bytes are a reused buffer, keep copies only. */
  push (data: Buffer, copy = false): void {
    let i = 0
    while (i < data.length) {
      if (this.remaining < 0) {
        const n = Math.min(RUN_FRAME_HEADER - this.headerFill, data.length - i)
        data.copy(this.header, this.headerFill, i, i + n)
        this.headerFill += n
        i += n
        if (this.headerFill < RUN_FRAME_HEADER) return
        this.headerFill = 0
        this.type = this.header.readUInt8(0)
        this.remaining = this.header.readUInt32BE(1)
        if (this.remaining > RUN_FRAME_MAX) throw new Error(`control frame of ${this.remaining} bytes is over the ${RUN_FRAME_MAX} limit`)
        this.streaming = this.streamed.has(this.type)
      }
      const n = Math.min(this.remaining, data.length - i)
      if (n > 0) {
        const piece = data.subarray(i, i + n)
        if (this.streaming) this.onPiece(this.type, piece)
        else this.pieces.push(copy ? Buffer.from(piece) : piece)
        this.remaining -= n
        i += n
      }
      if (this.remaining === 0) {
        this.remaining = -1
        if (!this.streaming) {
          const payload = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces)
          this.pieces = []
          this.onFrame(this.type, payload)
        }
      }
    }
  }
}
