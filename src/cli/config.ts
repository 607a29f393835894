/**
 * Settings of `kappa-node start` from three places, flags winning: the
 * command line, `KAPPA_*` environment variables, and the config file in the
 * home (`config.toml`). One table names every setting once: its flag, its
 * variable and its key in the file.
 */
import { readFile } from 'node:fs/promises'
import { parse as parseToml } from 'smol-toml'
import { UserError } from '../errors.js'
import { UsageError } from './usage.js'

export type SettingType = 'list' | 'string' | 'int' | 'bool' | 'http'

export interface Setting {
  /** commander's key (camelCase) */
  key: string
  /** the key in config.toml and the flag's name (kebab-case) */
  name: string
  type: SettingType
}

/** Every `start` option; `--json`, `--home` and `--config` are about the command, not the node. */
export const START_SETTINGS: readonly Setting[] = [
  { key: 'listen', name: 'listen', type: 'list' },
  { key: 'alias', name: 'alias', type: 'string' },
  { key: 'mdns', name: 'mdns', type: 'bool' },
  { key: 'pairRequests', name: 'pair-requests', type: 'bool' },
  { key: 'delay', name: 'delay', type: 'int' },
  { key: 'metricOverride', name: 'metric-override', type: 'int' },
  { key: 'http', name: 'http', type: 'http' },
  { key: 'splitHorizon', name: 'split-horizon', type: 'bool' },
  { key: 'hopCost', name: 'hop-cost', type: 'int' },
  { key: 'maxJobs', name: 'max-jobs', type: 'int' },
  { key: 'jobTimeout', name: 'job-timeout', type: 'int' },
  { key: 'jobMemory', name: 'job-memory', type: 'int' },
  { key: 'jobPids', name: 'job-pids', type: 'int' },
  { key: 'jobsDir', name: 'jobs-dir', type: 'string' },
  { key: 'jobDiskFloor', name: 'job-disk-floor', type: 'int' },
  { key: 'bwrap', name: 'bwrap', type: 'string' },
  { key: 'allowNetwork', name: 'allow-network', type: 'bool' },
  { key: 'sandbox', name: 'sandbox', type: 'bool' },
  { key: 'bulkPort', name: 'bulk-port', type: 'int' },
  { key: 'bulk', name: 'bulk', type: 'bool' },
  { key: 'pendingAccounting', name: 'pending-accounting', type: 'bool' },
  { key: 'mdnsInterval', name: 'mdns-interval', type: 'int' },
  { key: 'mdnsPort', name: 'mdns-port', type: 'int' },
  { key: 'ticketTtl', name: 'ticket-ttl', type: 'int' },
  { key: 'proc', name: 'proc', type: 'string' }
]

/** KAPPA_MAX_JOBS for max-jobs */
export function envName (s: Setting): string {
  return `KAPPA_${s.name.toUpperCase().replace(/-/g, '_')}`
}

/** Where a setting came from, as commander tells it ('cli', 'default', …). */
export type SourceOf = (key: string) => string | undefined

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

/** A setting's value from text (an environment variable). */
function fromText (s: Setting, text: string, where: string): unknown {
  const t = text.trim()
  switch (s.type) {
    case 'list': {
      const items = t.split(/[\s,]+/).filter(x => x !== '')
      if (items.length === 0) throw usage(`${where} is empty: give one or more values, separated by commas`)
      return items
    }
    case 'string': return t
    case 'int': return intValue(Number(t), t, where)
    case 'bool': {
      const v = t.toLowerCase()
      if (TRUE.has(v)) return true
      if (FALSE.has(v)) return false
      throw usage(`${where} must be true or false (1/0, yes/no, on/off), got '${text}'`)
    }
    case 'http': return FALSE.has(t.toLowerCase()) ? false : t
  }
}

/** A setting's value from the config file (TOML types). */
function fromToml (s: Setting, v: unknown, where: string): unknown {
  switch (s.type) {
    case 'list':
      if (typeof v === 'string') return [v]
      if (Array.isArray(v) && v.length > 0 && v.every(x => typeof x === 'string')) return v
      throw usage(`${where} must be a string or a list of strings`)
    case 'string':
      if (typeof v === 'string') return v
      throw usage(`${where} must be a string`)
    case 'int':
      if (typeof v === 'number' || typeof v === 'bigint') return intValue(Number(v), String(v), where)
      throw usage(`${where} must be a number`)
    case 'bool':
      if (typeof v === 'boolean') return v
      throw usage(`${where} must be true or false`)
    case 'http':
      if (typeof v === 'string' || v === false) return v
      throw usage(`${where} must be "host:port" or false`)
  }
}

function intValue (n: number, text: string, where: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw usage(`${where} must be a non-negative whole number, got '${text}'`)
  return n
}

function usage (message: string): UsageError {
  return new UsageError(message)
}

/** The config file's settings by commander key; {} when there is no file. */
export async function readConfigFile (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new UserError(`cannot read the config file ${path}: ${(err as Error).message}`)
  }
  let doc: Record<string, unknown>
  try {
    doc = parseToml(text) as Record<string, unknown>
  } catch (err) {
    throw usage(`config file ${path}: ${String((err as Error).message).split('\n')[0]}`)
  }
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(doc)) {
    const s = START_SETTINGS.find(x => x.name === name)
    if (s == null) throw usage(`config file ${path}: unknown setting '${name}' (known: ${START_SETTINGS.map(x => x.name).join(', ')})`)
    out[s.key] = fromToml(s, value, `'${name}' in ${path}`)
  }
  return out
}

/**
 * The options `start` runs with: a flag given on the command line wins, then
 * its KAPPA_* variable, then the config file, then the built-in default.
 */
export function resolveSettings (cli: Record<string, unknown>, sourceOf: SourceOf, env: NodeJS.ProcessEnv, file: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cli }
  for (const s of START_SETTINGS) {
    if (sourceOf(s.key) === 'cli') continue
    const text = env[envName(s)]
    if (text != null && text !== '') out[s.key] = fromText(s, text, envName(s))
    else if (Object.hasOwn(file, s.key)) out[s.key] = file[s.key]
  }
  return out
}
