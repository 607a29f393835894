import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** Files kept under `$KAPPA_HOME`. */
export const HOME_FILES = {
  identity: 'identity.key',
  trust: 'trust.json',
  control: 'control.sock',
  benchmark: 'benchmark.json',
  jobs: 'jobs',
  /** the placement hint wrapped commands read (docs/builds.md): `<generation> <slots>` */
  localHint: 'local-hint',
  /** one empty file `<generation>.<slot>` per job a wrapped command started here on the hint */
  localClaims: 'local-claims',
  /** finished jobs, one JSON line each (src/jobs); the previous file is kept as jobs.jsonl.1 */
  jobLog: 'jobs.jsonl',
  /** settings of `start` (TOML); flags and KAPPA_* variables win */
  config: 'config.toml'
} as const

/** `--home` wins, then `$KAPPA_HOME`, then `~/.kappa`. */
export function resolveHome (flag?: string): string {
  if (flag != null && flag !== '') return resolve(flag)
  const env = process.env.KAPPA_HOME
  if (env != null && env !== '') return resolve(env)
  return join(homedir(), '.kappa')
}

export function homeFile (home: string, name: keyof typeof HOME_FILES): string {
  return join(home, HOME_FILES[name])
}
