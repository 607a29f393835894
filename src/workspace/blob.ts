import { createHash } from 'node:crypto'
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { open } from 'node:fs/promises'
import { SMALL_FILE_BYTES } from './constants.js'

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
