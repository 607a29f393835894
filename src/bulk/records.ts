import { createCipheriv, createDecipheriv, hkdfSync, type DecipherGCM } from 'node:crypto'

/**
 * Authenticated records for a bulk connection: [length: u32 BE][ciphertext]
 * [tag: 16 bytes], AES-256-GCM, the length header as additional data, the
 * nonce a per-direction counter. Keys are derived from a secret that only
 * ever travelled inside the peers' Noise session, one key per direction, so
 * a nonce is never used twice under one key. Plaintext is handed out only
 * after its record's tag has been verified.
 */
const ALGORITHM = 'aes-256-gcm'
export const RECORD_HEADER_BYTES = 4
export const RECORD_TAG_BYTES = 16

export interface BulkKeys {
  originToTarget: Buffer
  targetToOrigin: Buffer
}

export function deriveBulkKeys (secret: Uint8Array, id: Uint8Array): BulkKeys {
  const key = (info: string): Buffer => Buffer.from(hkdfSync('sha256', secret, id, info, 32))
  return { originToTarget: key('kappa-bulk/1 origin to target'), targetToOrigin: key('kappa-bulk/1 target to origin') }
}

function nonce (counter: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeUInt32BE(Math.floor(counter / 2 ** 32), 4)
  n.writeUInt32BE(counter >>> 0, 8)
  return n
}

export class RecordError extends Error {
  override name = 'RecordError'
}

/** Seals outgoing records; the pieces of one record are encrypted in place of a copy. */
export class RecordSealer {
  private counter = 0

  constructor (private readonly key: Buffer, private readonly maxRecordBytes: number) {}

  /** The buffers to write, in order, for one record whose plaintext is `pieces` concatenated. */
  seal (pieces: readonly Uint8Array[]): Buffer[] {
    let length = 0
    for (const p of pieces) length += p.byteLength
    if (length > this.maxRecordBytes) throw new RecordError(`record of ${length} bytes is over the ${this.maxRecordBytes} limit`)
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES)
    header.writeUInt32BE(length, 0)
    const cipher = createCipheriv(ALGORITHM, this.key, nonce(this.counter++), { authTagLength: RECORD_TAG_BYTES })
    cipher.setAAD(header)
    const out = [header]
    for (const p of pieces) if (p.byteLength > 0) out.push(cipher.update(p))
    cipher.final()
    out.push(cipher.getAuthTag())
    return out
  }
}

/**
 * Opens incoming records from a byte stream cut anywhere. `push` may be given
 * a buffer that is reused after it returns: nothing of it is kept but copies
 * (decrypted plaintext is always fresh memory).
 */
export class RecordOpener {
  private counter = 0
  private readonly header = Buffer.alloc(RECORD_HEADER_BYTES)
  private headerFill = 0
  private readonly tag = Buffer.alloc(RECORD_TAG_BYTES)
  private tagFill = 0
  /** ciphertext bytes still to come in the current record; -1 between records */
  private remaining = -1
  private decipher?: DecipherGCM
  private plaintext: Buffer[] = []

  constructor (private readonly key: Buffer, private readonly maxRecordBytes: number) {}

  /**
   * Feeds bytes; calls `onRecord` with each verified record's plaintext, in
   * the pieces it was decrypted in (joining them would be one more copy, and
   * garbage). Throws RecordError on a bad record.
   */
  push (data: Uint8Array, onRecord: (plaintext: Buffer[]) => void): void {
    let i = 0
    while (i < data.byteLength) {
      if (this.remaining < 0) {
        const n = Math.min(RECORD_HEADER_BYTES - this.headerFill, data.byteLength - i)
        this.header.set(data.subarray(i, i + n), this.headerFill)
        this.headerFill += n
        i += n
        if (this.headerFill < RECORD_HEADER_BYTES) return
        this.headerFill = 0
        const length = this.header.readUInt32BE(0)
        if (length > this.maxRecordBytes) throw new RecordError(`record of ${length} bytes is over the ${this.maxRecordBytes} limit`)
        this.remaining = length
        this.decipher = createDecipheriv(ALGORITHM, this.key, nonce(this.counter++), { authTagLength: RECORD_TAG_BYTES }) as DecipherGCM
        this.decipher.setAAD(this.header)
      } else if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.byteLength - i)
        const out = this.decipher!.update(data.subarray(i, i + n))
        if (out.byteLength > 0) this.plaintext.push(out)
        this.remaining -= n
        i += n
      } else {
        const n = Math.min(RECORD_TAG_BYTES - this.tagFill, data.byteLength - i)
        this.tag.set(data.subarray(i, i + n), this.tagFill)
        this.tagFill += n
        i += n
        if (this.tagFill < RECORD_TAG_BYTES) return
        this.tagFill = 0
        this.remaining = -1
        const decipher = this.decipher!
        this.decipher = undefined
        decipher.setAuthTag(this.tag)
        try {
          decipher.final()
        } catch {
          throw new RecordError('record failed authentication')
        }
        const record = this.plaintext
        this.plaintext = []
        onRecord(record)
      }
    }
  }

  /** Bytes of a record begun but not finished (a connection that ends here was cut short). */
  get midRecord (): boolean {
    return this.remaining >= 0 || this.headerFill > 0
  }
}
