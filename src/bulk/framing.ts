/**
 * Records on a bulk connection, inside TLS: [length: u32 BE][payload], one
 * frame each, and a last record of length END_OF_RECORDS that says "that
 * was all". TLS authenticates every byte, so this end record is the
 * authenticated end of the stream: a TCP FIN, or a TLS close, that comes
 * without it (between records or inside one) is a connection cut short,
 * never a clean end. (Node takes a FIN without TLS's close_notify as a
 * clean end, so close_notify alone would not do.)
 */
export const RECORD_HEADER_BYTES = 4
const END_OF_RECORDS = 0xffffffff

export class FramingError extends Error {
  override name = 'FramingError'
}

/** One record's bytes, header first, in a single fresh buffer: the caller may reuse `pieces` at once. */
export function encodeRecord (pieces: readonly Uint8Array[], maxRecordBytes: number): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadLength(pieces, maxRecordBytes))
  writeRecord(out, pieces)
  return out
}

/** The payload length of a record of `pieces`; throws FramingError over the limit. */
export function payloadLength (pieces: readonly Uint8Array[], maxRecordBytes: number): number {
  let length = 0
  for (const p of pieces) length += p.byteLength
  if (length > maxRecordBytes) throw new FramingError(`record of ${length} bytes is over the ${maxRecordBytes} limit`)
  return length
}

/** Header and payload into `out`, which holds at least RECORD_HEADER_BYTES + the payload; returns the bytes written. */
export function writeRecord (out: Buffer, pieces: readonly Uint8Array[]): number {
  let at = RECORD_HEADER_BYTES
  for (const p of pieces) {
    out.set(p, at)
    at += p.byteLength
  }
  out.writeUInt32BE(at - RECORD_HEADER_BYTES, 0)
  return at
}

export function encodeEnd (): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES)
  out.writeUInt32BE(END_OF_RECORDS, 0)
  return out
}

/**
 * Splits incoming bytes (cut anywhere) into records. Two ways in:
 * `push` takes fresh chunks (a TLS socket's 'data' events) and hands each
 * record out as subarrays of them, copying nothing; `pushReused` takes a
 * buffer that is reused after the call (an `onread` buffer, the fast way to
 * read TLS in Node) and copies each record's bytes once, into one buffer of
 * the record's size.
 */
export class RecordReader {
  private readonly header = Buffer.alloc(RECORD_HEADER_BYTES)
  private headerFill = 0
  /** payload bytes still to come in the current record; -1 between records */
  private remaining = -1
  private pieces: Buffer[] = []
  /** pushReused: the current record's buffer, and how much of it is filled */
  private whole?: Buffer
  private filled = 0
  private ended = false

  constructor (private readonly maxRecordBytes: number) {}

  /** Calls `onRecord` for each whole record. Throws FramingError on an oversized record or bytes after the end record. */
  push (data: Buffer, onRecord: (payload: Buffer[]) => void): void {
    this.read(data, false, onRecord)
  }

  /** As push, for a buffer the caller reuses once this returns. */
  pushReused (data: Buffer, onRecord: (payload: Buffer[]) => void): void {
    this.read(data, true, onRecord)
  }

  private read (data: Buffer, reused: boolean, onRecord: (payload: Buffer[]) => void): void {
    let i = 0
    while (i < data.byteLength) {
      if (this.ended) throw new FramingError('data after the end of the bulk connection')
      if (this.remaining < 0) {
        const n = Math.min(RECORD_HEADER_BYTES - this.headerFill, data.byteLength - i)
        data.copy(this.header, this.headerFill, i, i + n)
        this.headerFill += n
        i += n
        if (this.headerFill < RECORD_HEADER_BYTES) return
        this.headerFill = 0
        const length = this.header.readUInt32BE(0)
        if (length === END_OF_RECORDS) {
          this.ended = true
          continue
        }
        if (length > this.maxRecordBytes) throw new FramingError(`record of ${length} bytes is over the ${this.maxRecordBytes} limit`)
        this.remaining = length
      }
      const n = Math.min(this.remaining, data.byteLength - i)
      if (n > 0) {
        if (reused) {
          this.whole ??= Buffer.allocUnsafe(this.remaining + this.filled)
          data.copy(this.whole, this.filled, i, i + n)
          this.filled += n
        } else {
          this.pieces.push(data.subarray(i, i + n))
        }
      }
      this.remaining -= n
      i += n
      if (this.remaining === 0) {
        this.remaining = -1
        const record = this.whole != null ? [this.whole] : this.pieces
        this.whole = undefined
        this.filled = 0
        this.pieces = []
        onRecord(record)
      }
    }
  }

  /** The end record has come: what follows is a clean end. */
  get complete (): boolean {
    return this.ended
  }
}
