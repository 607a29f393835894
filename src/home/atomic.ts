import { open, rename, unlink } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('home')

/**
 * Replace `path` with `data` so that a crash at any moment leaves either the
 * old file or the new one, never a mix: write a temp file beside it, fsync,
 * rename over the target, fsync the directory.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const file = await open(tmp, 'w', mode)
  try {
    await file.writeFile(data)
    await file.sync()
  } catch (err) {
    await file.close()
    await unlink(tmp).catch(logged(debug, 'removing a temporary file'))
    throw err
  }
  await file.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(logged(debug, 'removing a temporary file'))
    throw err
  }
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
}
