import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export { writeFileAtomic } from './atomic.js'

/** Files kept under `$KAPPA_HOME`. */
export const HOME_FILES = {
  identity: 'identity.key',
  trust: 'trust.json',
  control: 'control.sock',
  benchmark: 'benchmark.json',
  jobs: 'jobs'
} as const

/** `--home` wins, then `$KAPPA_HOME`, then `~/.kappa`. */
export function resolveHome (flag?: string): string {
  if (flag != null && flag !== '') return resolve(flag)
  const env = process.env.KAPPA_HOME
  if (env != null && env !== '') return resolve(env)
  return join(homedir(), '.kappa')
}

/** Create the home directory, private to its owner. */
export async function ensureHome (home: string): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  return home
}

export function homeFile (home: string, name: keyof typeof HOME_FILES): string {
  return join(home, HOME_FILES[name])
}
