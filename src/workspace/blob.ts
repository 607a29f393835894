import { createHash } from 'node:crypto'
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { open } from 'node:fs/promises'
import { RECENT_CONTENT_ENTRY_BYTES, SMALL_FILE_BYTES } from './constants.js'

/** The file no longer has the content its digest names (it changed after it was described). */
export class ChangedWhileSent extends Error {
  override name = 'ChangedWhileSent'
}

/**
 * Reads `size` bytes of `path` in chunks of up to `chunkBytes` and hands
 * each to `send` (which may keep the buffer only until it resolves), hashing
 * what it reads: a file that changed since its digest was taken is found out
 * (ChangedWhileSent) instead of being sent under a digest it no longer has.
 * `noFollow`: the last component must not be a symlink.
 */
export async function sendVerified (path: string, size: number, digest: string, chunkBytes: number, send: (data: Buffer, first: boolean) => Promise<void>, opts: { noFollow?: boolean } = {}): Promise<void> {
  if (size <= SMALL_FILE_BYTES && size < chunkBytes) {
    // one piece: read with synchronous calls (SMALL_FILE_BYTES says why)
    const { data } = readSmall(path, size, fsConstants.O_RDONLY | (opts.noFollow === true ? fsConstants.O_NOFOLLOW : 0))
    if (data.length !== size || createHash('sha256').update(data).digest('hex') !== digest) throw new ChangedWhileSent(`${path} changed while it was sent`)
    await send(data, true)
    return
  }
  const handle = await open(path, fsConstants.O_RDONLY | (opts.noFollow === true ? fsConstants.O_NOFOLLOW : 0))
  const hash = createHash('sha256')
  let read = 0
  try {
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size + 1)))
    let first = true
    for (;;) {
      // one byte more than announced is enough to know the file grew
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - read + 1), null)
      if (bytesRead === 0) break
      read += bytesRead
      if (read > size) break
      const data = buffer.subarray(0, bytesRead)
      hash.update(data)
      await send(data, first)
      first = false
    }
    if (first && read === 0) await send(Buffer.alloc(0), true)
  } finally {
    await handle.close()
  }
  if (read !== size || hash.digest('hex') !== digest) throw new ChangedWhileSent(`${path} changed while it was sent`)
}

/** Hands content held in memory to `send` in chunks of up to `chunkBytes`, as sendVerified does a file's. */
export async function sendHeld (data: Buffer, chunkBytes: number, send: (data: Buffer, first: boolean) => Promise<void>): Promise<void> {
  let offset = 0
  do {
    const chunk = data.subarray(offset, offset + chunkBytes)
    await send(chunk, offset === 0)
    offset += chunk.length
  } while (offset < data.length)
}

/**
 * The content of the small files hashed last, by digest, within a byte
 * budget (the oldest go first). A build renames and rewrites its temporaries
 * (gcc -MF's `.deps/x.Tpo`, libtool's `x.loT`) while its other compiles are
 * being placed, so a job's snapshot can name a file that is gone or
 * different by the time the target asks for it. Sent from here, the job
 * sees the workspace as it was described, as a run started then here would
 * have, instead of being run here after all ("cannot read …").
 */
export class RecentContent {
  private readonly entries = new Map<string, Buffer>()
  private bytes = 0

  constructor (private readonly budget: number) {}

  /** Keeps a copy of `data` (the caller's buffer may be a slice of a larger one). */
  put (digest: string, data: Buffer): void {
    const known = this.entries.get(digest)
    if (known != null) {
      // most recently seen last
      this.entries.delete(digest)
      this.entries.set(digest, known)
      return
    }
    if (data.length + RECENT_CONTENT_ENTRY_BYTES > this.budget) return
    // its own memory: a pooled slice would keep its whole pool alive
    const copy = Buffer.allocUnsafeSlow(data.length)
    data.copy(copy)
    this.entries.set(digest, copy)
    this.bytes += copy.length + RECENT_CONTENT_ENTRY_BYTES
    for (const [oldest, held] of this.entries) {
      if (this.bytes <= this.budget) break
      this.entries.delete(oldest)
      this.bytes -= held.length + RECENT_CONTENT_ENTRY_BYTES
    }
  }

  get (digest: string): Buffer | undefined {
    return this.entries.get(digest)
  }
}

/**
 * Up to `size + 1` bytes of a small file (one more than expected: a file that
 * grew is found out) and its stat after the read, with synchronous calls.
 */
export function readSmall (path: string, size: number, flags: number): { data: Buffer, stat: Stats } {
  const fd = openSync(path, flags)
  try {
    const buffer = Buffer.allocUnsafe(size + 1)
    let read = 0
    for (;;) {
      const n = readSync(fd, buffer, read, buffer.length - read, read)
      if (n === 0) break
      read += n
      if (read === buffer.length) break
    }
    return { data: buffer.subarray(0, read), stat: fstatSync(fd) }
  } finally {
    closeSync(fd)
  }
}
