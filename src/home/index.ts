import { mkdir } from 'node:fs/promises'

export { writeFileAtomic } from './atomic.js'
export { HOME_FILES, resolveHome, homeFile } from './paths.js'

/** Create the home directory, private to its owner. */
export async function ensureHome (home: string): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  return home
}
