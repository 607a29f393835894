import { chmod, mkdir, stat } from 'node:fs/promises'
import { UserError } from '../errors.js'
import { HOME_FILES, homeFile } from './paths.js'

export { writeFileAtomic } from './atomic.js'
export { HOME_FILES, resolveHome, homeFile } from './paths.js'

/** Create the home directory, private to its owner. */
export async function ensureHome (home: string): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  return home
}

/** Modes a node's home and its key must have: nobody but the owner reads the key or the control socket. */
const PRIVATE_MODES: Array<{ name?: keyof typeof HOME_FILES, mode: number }> = [
  { mode: 0o700 },
  { name: 'identity', mode: 0o600 }
]

/**
 * Tighten an existing home (and its key) that others could read or write,
 * as ssh insists on for `~/.ssh`: the daemon fixes the modes at start rather
 * than refusing, and says what it changed, one line each. One it cannot fix
 * (another owner) is an error: the key would stay readable.
 */
export async function tightenHome (home: string): Promise<string[]> {
  const changed: string[] = []
  for (const { name, mode } of PRIVATE_MODES) {
    const path = name == null ? home : homeFile(home, name)
    let current: number
    try {
      current = (await stat(path)).mode & 0o7777
    } catch (err: any) {
      if (err.code === 'ENOENT') continue
      throw new UserError(`cannot check the mode of ${path}: ${err.message}`)
    }
    if ((current & 0o077 & ~mode) === 0) continue
    try {
      await chmod(path, mode)
    } catch (err: any) {
      throw new UserError(`${path} is mode ${octal(current)} (others may read it) and could not be changed to ${octal(mode)}: ${err.message}`)
    }
    changed.push(`${path} was mode ${octal(current)}: changed to ${octal(mode)} (others could ${name == null ? 'enter it' : 'read it'})`)
  }
  return changed
}

function octal (mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}
