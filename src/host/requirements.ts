import { accessSync, constants } from 'node:fs'
import type { JobRequirements } from '../balance/index.js'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('host')

const UNAME_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loongarch64' }

/** This machine's architecture as `uname -m` names it (what ELF headers map to). */
export function machineArch (): string {
  return UNAME_ARCH[process.arch] ?? process.arch
}

/** Can this machine run a job with these needs? Unknown free memory does not refuse. */
export function machineMeets (requirements: JobRequirements | undefined, memAvailableKiB?: number): boolean {
  if (requirements == null) return true
  if (requirements.arch != null && requirements.arch !== machineArch()) return false
  if (requirements.interpreter != null && findExecutable(requirements.interpreter) == null) return false
  if (requirements.minFreeMemKiB != null && memAvailableKiB != null && memAvailableKiB < requirements.minFreeMemKiB) return false
  return true
}

/** An absolute path that is executable, or a bare name found on PATH. */
export function findExecutable (name: string, path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string | undefined {
  const candidates = name.includes('/') ? [name] : path.split(':').filter(d => d !== '').map(d => `${d}/${name}`)
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch (err) { debug('%s is not an executable here (%s)', candidate, errorMessage(err)) }
  }
  return undefined
}
