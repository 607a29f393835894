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
  // daemon → client
  STARTED = 10, // JSON {target, path}
  STDOUT = 11,
  STDERR = 12,
  EXIT = 13, // JSON {code, signal}
  LOCAL = 14, // JSON {reason, quiet}: run it here yourself
  ERROR = 15 // JSON {message}: the job failed after it started
}

export const RUN_FRAME_HEADER = 5
export const RUN_FRAME_MAX = 4 * 1024 * 1024

export function encodeRunFrame (type: RunFrame, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const header = Buffer.allocUnsafe(RUN_FRAME_HEADER)
  header.writeUInt8(type, 0)
  header.writeUInt32BE(payload.length, 1)
  return Buffer.concat([header, payload])
}

export function encodeJsonFrame (type: RunFrame, value: unknown): Buffer {
  return encodeRunFrame(type, Buffer.from(JSON.stringify(value)))
}

export interface DecodedRunFrame { type: RunFrame, payload: Buffer }

/** Incremental decoder: feed socket chunks, get whole frames. */
export class RunFrameDecoder {
  private buffered: Buffer = Buffer.alloc(0)

  push (chunk: Buffer): DecodedRunFrame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    const frames: DecodedRunFrame[] = []
    while (this.buffered.length >= RUN_FRAME_HEADER) {
      const length = this.buffered.readUInt32BE(1)
      if (length > RUN_FRAME_MAX) throw new Error(`control frame of ${length} bytes is over the ${RUN_FRAME_MAX} limit`)
      if (this.buffered.length < RUN_FRAME_HEADER + length) break
      frames.push({ type: this.buffered.readUInt8(0), payload: this.buffered.subarray(RUN_FRAME_HEADER, RUN_FRAME_HEADER + length) })
      this.buffered = this.buffered.subarray(RUN_FRAME_HEADER + length)
    }
    return frames
  }
}
