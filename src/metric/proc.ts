/**
 * Reading and parsing the /proc files the metric needs, under a configurable
 * root so tests can point it at fixture files. Every parser validates what it
 * reads: a missing, truncated or garbage file is a ProcError naming the file
 * and what is wrong with it, never a NaN further down.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CpuTimes } from './formula.js'

export const DEFAULT_PROC_ROOT = '/proc'

/** A /proc file that could not be read or made sense of. */
export class ProcError extends Error {
  override name = 'ProcError'
  constructor (readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`)
  }
}

export interface StatReading {
  /** Per-CPU times by CPU number (the `cpuN` lines). */
  cpus: Map<number, CpuTimes>
  /** `procs_running`: runnable tasks at the moment of reading, the reader included. */
  procsRunning: number
}

export interface MemInfo {
  totalKiB: number
  availableKiB: number
  /** MemAvailable was absent (kernels before 3.14) and was estimated. */
  estimated: boolean
}

const INTEGER = /^\d+$/

/**
 * /proc/stat. Busy = user + nice + system + irq + softirq + steal; idle =
 * idle + iowait (a CPU waiting for I/O would run a new process). guest and
 * guest_nice are already counted in user and nice.
 */
export function parseStat (text: string, file = 'stat'): StatReading {
  if (text.trim() === '') throw new ProcError(file, 'empty file')
  const cpus = new Map<number, CpuTimes>()
  let procsRunning: number | undefined
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    const key = fields[0]
    if (/^cpu\d+$/.test(key)) {
      const values = fields.slice(1, 9)
      if (values.length < 4 || !values.every((v) => INTEGER.test(v))) {
        throw new ProcError(file, `malformed line '${clip(line.trim())}' (expected 'cpuN' and at least 4 counters)`)
      }
      const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = values.map(Number)
      cpus.set(Number(key.slice(3)), { idle: idle + iowait, busy: user + nice + system + irq + softirq + steal })
    } else if (key === 'procs_running') {
      if (fields.length !== 2 || !INTEGER.test(fields[1])) throw new ProcError(file, `malformed line '${clip(line)}'`)
      procsRunning = Number(fields[1])
    }
  }
  if (cpus.size === 0) throw new ProcError(file, 'no per-CPU lines (cpu0 …): not a /proc/stat file, or truncated')
  if (procsRunning === undefined) throw new ProcError(file, 'no procs_running line: truncated?')
  return { cpus, procsRunning }
}

/** Sum of the given CPUs' times (all CPUs when `only` is undefined) and how many were found. */
export function cpuTimes (reading: StatReading, only?: readonly number[]): { times: CpuTimes, cores: number } {
  let idle = 0; let busy = 0; let cores = 0
  for (const [n, t] of reading.cpus) {
    if (only !== undefined && !only.includes(n)) continue
    idle += t.idle; busy += t.busy; cores++
  }
  return { times: { idle, busy }, cores }
}

/** /proc/meminfo: MemTotal and MemAvailable, in KiB. */
export function parseMeminfo (text: string, file = 'meminfo'): MemInfo {
  if (text.trim() === '') throw new ProcError(file, 'empty file')
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line)
    if (m != null) values.set(m[1], Number(m[2]))
  }
  const totalKiB = values.get('MemTotal')
  if (totalKiB === undefined) throw new ProcError(file, 'no MemTotal line: not a /proc/meminfo file, or truncated')
  if (totalKiB <= 0) throw new ProcError(file, `MemTotal is ${totalKiB}`)
  const available = values.get('MemAvailable')
  if (available !== undefined) return { totalKiB, availableKiB: Math.min(available, totalKiB), estimated: false }
  // Kernels before 3.14 lack MemAvailable; free + page cache is the usual estimate.
  const free = values.get('MemFree')
  if (free === undefined) throw new ProcError(file, 'neither MemAvailable nor MemFree: truncated?')
  const estimate = free + (values.get('Buffers') ?? 0) + (values.get('Cached') ?? 0)
  return { totalKiB, availableKiB: Math.min(estimate, totalKiB), estimated: true }
}

/** The CPU model from /proc/cpuinfo (x86 "model name"; other architectures name it differently). */
export function parseCpuModel (text: string): string {
  const fields = new Map<string, string>()
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i < 0) continue
    const key = line.slice(0, i).trim().toLowerCase()
    if (!fields.has(key)) fields.set(key, line.slice(i + 1).trim())
  }
  for (const key of ['model name', 'cpu model', 'hardware', 'processor model', 'cpu']) {
    const v = fields.get(key)
    if (v !== undefined && v !== '') return v
  }
  const implementer = fields.get('cpu implementer')
  const part = fields.get('cpu part')
  if (implementer !== undefined || part !== undefined) return `implementer ${implementer ?? '?'} part ${part ?? '?'}`
  return 'unknown'
}

/** A kernel CPU list such as "0-3,6": the CPU numbers. */
export function parseCpuList (text: string): number[] {
  const cpus: number[] = []
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (m == null) throw new RangeError(`bad CPU list '${clip(text)}'`)
    const from = Number(m[1]); const to = m[2] === undefined ? from : Number(m[2])
    for (let c = from; c <= to; c++) cpus.push(c)
  }
  return cpus
}

/** Cpus_allowed_list of /proc/<pid>/status, or undefined when absent. */
export function parseAllowedCpus (statusText: string): number[] | undefined {
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(statusText)
  if (m == null) return undefined
  try {
    return parseCpuList(m[1])
  } catch {
    return undefined
  }
}

/** The /proc files the metric reads, under one root. */
export interface ProcReader {
  readonly root: string
  stat (): StatReading
  meminfo (): MemInfo
  /** CPUs this process may run on (so a process it starts may too); undefined if unknown. */
  allowedCpus (): number[] | undefined
  /** The kernel's boot id: changes at every boot. */
  bootId (): string
  cpuModel (): string
}

/**
 * Reads are synchronous on purpose: the files are tiny and in memory, and a
 * read from the main thread makes the reader exactly one of the runnable
 * tasks `procs_running` counts (an async read runs on a libuv thread while
 * the main thread may be running too).
 */
export function createProcReader (root = DEFAULT_PROC_ROOT): ProcReader {
  const read = (name: string): { file: string, text: string } => {
    const file = join(root, name)
    try {
      return { file, text: readFileSync(file, 'utf8') }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const problem = code === 'ENOENT' ? 'missing' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : `unreadable (${code ?? (err as Error).message})`
      throw new ProcError(file, problem)
    }
  }
  return {
    root,
    stat () {
      const { file, text } = read('stat')
      return parseStat(text, file)
    },
    meminfo () {
      const { file, text } = read('meminfo')
      return parseMeminfo(text, file)
    },
    allowedCpus () {
      try {
        return parseAllowedCpus(read('self/status').text)
      } catch {
        return undefined // fixtures and odd systems have no self/status: then every CPU counts
      }
    },
    bootId () {
      const { file, text } = read('sys/kernel/random/boot_id')
      const id = text.trim()
      if (!/^[0-9a-f-]{8,64}$/i.test(id)) throw new ProcError(file, `not a boot id: '${clip(id)}'`)
      return id
    },
    cpuModel () {
      const { text } = read('cpuinfo')
      return parseCpuModel(text)
    }
  }
}

/** Quote at most a line's worth of a bad input in an error message. */
function clip (s: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\x00-\x1f\x7f-\uffff]/g, '?')
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat
}
