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
  let length = 0
  for (const p of pieces) length += p.byteLength
  if (length > maxRecordBytes) throw new FramingError(`record of ${length} bytes is over the ${maxRecordBytes} limit`)
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  out.writeUInt32BE(length, 0)
  let at = RECORD_HEADER_BYTES
  for (const p of pieces) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

export function encodeEnd (): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES)
  out.writeUInt32BE(END_OF_RECORDS, 0)
  return out
}

/**
 * Splits incoming bytes (cut anywhere) into records. A record's payload is
 * handed out as the pieces it arrived in — subarrays of the chunks given to
 * `push`, which must be fresh memory (a TLS socket's 'data' chunks are) —
 * so nothing is joined or copied.
 */
export class RecordReader {
  private readonly header = Buffer.alloc(RECORD_HEADER_BYTES)
  private headerFill = 0
  /** payload bytes still to come in the current record; -1 between records */
  private remaining = -1
  private pieces: Buffer[] = []
  private ended = false

  constructor (private readonly maxRecordBytes: number) {}

  /** Calls `onRecord` for each whole record. Throws FramingError on an oversized record or bytes after the end record. */
  push (data: Buffer, onRecord: (payload: Buffer[]) => void): void {
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
      if (n > 0) this.pieces.push(data.subarray(i, i + n))
      this.remaining -= n
      i += n
      if (this.remaining === 0) {
        this.remaining = -1
        const record = this.pieces
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
