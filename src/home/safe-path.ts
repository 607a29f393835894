import { lstatSync } from 'node:fs'
import { join } from 'node:path'
import { errorMessage } from '../errors.js'

/**
 * Someone else's directory on the way to `path` (another user made
 * /var/tmp/kappa-<uid> first, a symlink, a directory anyone may write
 * without the sticky bit) would let them swap what is below it: why, or
 * undefined when every step belongs to root or to this user.
 */
export function unsafeAncestor (path: string): string | undefined {
  const uid = process.getuid?.() ?? 0
  let at = '/'
  for (const part of path.split('/').filter(p => p !== '')) {
    at = join(at, part)
    let st
    try {
      st = lstatSync(at)
    } catch (err) {
      return `${at}: ${errorMessage(err)}`
    }
    if (st.isSymbolicLink()) {
      // system symlinks (/var/run → /run) belong to root
      if (st.uid !== 0) return `${at} is a symlink owned by uid ${st.uid}`
      continue
    }
    if (st.uid !== 0 && st.uid !== uid) return `${at} belongs to uid ${st.uid}`
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return `${at} is writable by others`
  }
  return undefined
}
