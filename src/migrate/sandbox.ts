import { existsSync, lstatSync, readlinkSync } from 'node:fs'
import { basename } from 'node:path'
import { findExecutable } from '../host/requirements.js'

/** System directories a job sees read-only (symlinked ones, as on merged-/usr systems, stay symlinks). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt']

export interface SandboxSpec {
  /** the job's directory on this machine, mounted at `cwd` */
  workDir: string
  /** the origin's working directory: absolute paths under it keep working */
  cwd: string
  /** the executable from the cache, mounted read-only at `exePath` */
  cachedExe: string
  exePath: string
  allowNetwork: boolean
}

export interface SandboxLaunch {
  command: string
  args: string[]
  /** where the job's working directory appears inside the sandbox */
  cwd: string
}

export function findBubblewrap (): string | undefined {
  return findExecutable('bwrap')
}

/** Would mounting the job's directory at `cwd` hide the system (`/`, `/usr/…`, `/tmp` itself)? */
function unsafeMountPoint (cwd: string): boolean {
  if (cwd === '/' || cwd === '/tmp' || cwd === '/proc' || cwd === '/dev') return true
  return SYSTEM_DIRS.some(d => cwd === d || cwd.startsWith(`${d}/`)) || cwd.startsWith('/proc/') || cwd.startsWith('/dev/')
}

/**
 * bubblewrap arguments: read-only system directories, fresh /proc, /dev and
 * /tmp, the job directory at the origin's cwd, the executable at the origin's
 * path, no network unless allowed, nothing of anyone's home or of kappa's keys.
 * As root the job runs as nobody inside a user namespace.
 */
export function bubblewrapArgs (bwrap: string, spec: SandboxSpec, argv: string[]): SandboxLaunch {
  const args = ['--die-with-parent', '--unshare-all']
  if (spec.allowNetwork) args.push('--share-net')
  const uid = process.getuid?.() ?? 65534
  const gid = process.getgid?.() ?? 65534
  args.push('--unshare-user', '--uid', String(uid === 0 ? 65534 : uid), '--gid', String(uid === 0 ? 65534 : gid))
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue
    const st = lstatSync(dir)
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir)
    else args.push('--ro-bind', dir, dir)
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--dir', '/var/tmp')
  const cwd = unsafeMountPoint(spec.cwd) ? '/kappa-job' : spec.cwd
  args.push('--bind', spec.workDir, cwd)
  // a path inside a read-only system directory can only be covered if it exists here
  const underSystem = SYSTEM_DIRS.some(d => spec.exePath.startsWith(`${d}/`))
  const exeInside = underSystem && !existsSync(spec.exePath) ? `/kappa-bin/${basename(spec.exePath)}` : spec.exePath
  args.push('--ro-bind', spec.cachedExe, exeInside)
  args.push('--chdir', cwd, '--', exeInside, ...argv.slice(1))
  return { command: bwrap, args, cwd }
}
