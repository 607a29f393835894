import { HOST_ENV } from './constants.js'

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

function isHostVariable (name: string): boolean {
  return HOST_ENV.some(p => p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p)
}

/**
 * The environment a job gets: the origin's, minus the variables that
 * describe the origin's session rather than the job's world (HOST_ENV:
 * display, ssh agent, runtime directories, kappa's own…), plus those asked
 * for by name (`--env NAME`, even from that list), minus `--no-env NAME`.
 * Malformed names and values with NUL bytes never travel.
 */
export function jobEnvironment (env: Record<string, string>, add: readonly string[] = [], drop: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {}
  const dropped = new Set(drop)
  const added = new Set(add)
  for (const [name, value] of Object.entries(env)) {
    if (!NAME.test(name) || value.includes('\0') || dropped.has(name)) continue
    if (isHostVariable(name) && !added.has(name)) continue
    out[name] = value
  }
  return out
}

/** A variable name and value a target accepts from a peer. */
export function safeVariable (name: string, value: string): boolean {
  return NAME.test(name) && !value.includes('\0')
}
