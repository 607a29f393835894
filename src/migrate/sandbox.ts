import { existsSync, lstatSync, readlinkSync } from 'node:fs'
import { etcArgs, type EtcPlan } from './etc.js'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('migrate:sandbox')

/** System directories a job sees read-only (symlinked ones, as on merged-/usr systems, stay symlinks). */
export const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt']

/** PATH of the launcher itself (never the job's). */
export const LAUNCHER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** How the job's program is started. */
export type ExecPlan = (
  /** argv exactly as the caller gave it: the path resolves inside the sandbox to the same file as at home */
  | { kind: 'as-given' }
  /** the origin's executable, mounted read-only at `at`; `asGiven`: argv[0] then still resolves to it */
  | { kind: 'bind', source: string, at: string, asGiven: boolean }
) & {
  /** symlinks to make on the way from argv[0]'s path to the file (outside the system directories) */
  links?: Array<{ at: string, target: string }>
}

/** Everything one launch needs; `launchCommand` turns it into a command (issue 11 replaces the launcher behind it). */
export interface LaunchSpec {
  /** the workspace root on the origin: the job's view of it is mounted there */
  workspace: string
  /** the job's view of the workspace on this machine (overlay or copy) */
  view: string
  /** the origin's working directory (inside the workspace) */
  cwd: string
  argv: string[]
  /** the job's environment, set inside the sandbox */
  env: Record<string, string>
  exec: ExecPlan
  /** files outside the workspace: read-only at their absolute paths */
  extras: Array<{ source: string, at: string }>
  /** --output files outside the workspace: writable at their absolute paths */
  outputs: Array<{ source: string, at: string }>
  allowNetwork: boolean
  /** the job's uid and gid inside the sandbox (the job user's own: its files in the view are its own) */
  user: { uid: number, gid: number }
  /** the minimal /etc (src/migrate/etc.ts); undefined: the system's, as the system directories are */
  etc?: EtcPlan
  /** the job's /tmp: a tmpfs of at most this many bytes (its pages count in the job's memory cgroup) */
  tmpBytes?: number
  /** paths of this node (its home, its job directories) covered with an empty tmpfs where a system directory would show them */
  hide: string[]
  /** system directory → what to show there instead of this node's own (a toolchain layer over it, docs/toolchain.md) */
  systemDirs?: Record<string, string>
}

export interface Launch {
  command: string
  args: string[]
  /** the launcher's own environment: clean, whatever the job's is */
  env: Record<string, string>
}

export function underSystemDir (path: string): boolean {
  return SYSTEM_DIRS.some(d => path === d || path.startsWith(`${d}/`))
}

/**
 * Would mounting the workspace at `path` hide what the sandbox itself needs
 * (`/`, `/tmp`, `/proc`, `/dev`, a system directory itself)? A workspace
 * inside a system directory works only where that directory exists here.
 */
export function unusableMountPoint (path: string): string | undefined {
  if (['/', '/tmp', '/proc', '/dev', '/var', '/var/tmp'].includes(path) || path.startsWith('/proc/') || path.startsWith('/dev/')) return `a workspace at ${path} cannot be mounted in a sandbox`
  if (SYSTEM_DIRS.includes(path)) return `a workspace at ${path} would hide a system directory`
  if (underSystemDir(path) && !existsSync(path)) return `${path} is inside a system directory and does not exist on this node`
  return undefined
}

/**
 * Where the origin's executable can be mounted: at its own path, unless
 * that lies in a read-only system directory where no file stands to mount
 * over (bubblewrap cannot create one there; e.g. /usr/bin/cc, a symlink on
 * Debian): then under /kappa-bin, and argv[0] is passed with `exec -a`.
 */
export function executableMountPoint (path: string): string {
  if (!underSystemDir(path)) return path
  try {
    if (lstatSync(path).isFile()) return path
  } catch (err) { debug('no file at %s to mount over (%s)', path, errorMessage(err)) }
  return `/kappa-bin/${path.split('/').pop() ?? 'program'}`
}

/**
 * bubblewrap: read-only system directories, fresh /proc, /dev and /tmp, the
 * job's view of the workspace at the workspace's own path (absolute paths
 * and DW_AT_comp_dir stay the same), files named outside it read-only at
 * theirs, the executable where it belongs, no network unless allowed,
 * nothing of anyone's home or of kappa's keys, a minimal /etc, a /tmp sized
 * to the job's memory. bubblewrap runs as the job user already (src/migrate/
 * jobhost.ts drops to it) and maps only that uid into its namespace. The
 * job's environment is set inside (--clearenv, --setenv): bubblewrap's own
 * environment is the launcher's, clean.
 */
export function launchCommand (bwrap: string, spec: LaunchSpec): Launch {
  const args = ['--die-with-parent', '--unshare-all']
  if (spec.allowNetwork) args.push('--share-net')
  // the launcher already is the job user (a root daemon drops to it first): this namespace maps that uid only
  args.push('--unshare-user', '--uid', String(spec.user.uid), '--gid', String(spec.user.gid))
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue
    const st = lstatSync(dir)
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir)
    else args.push('--ro-bind', spec.systemDirs?.[dir] ?? dir, dir)
  }
  // mounted over the system's /etc, which stays underneath unseen
  if (spec.etc != null) args.push(...etcArgs(spec.etc))
  for (const path of spec.hide) if (underSystemDir(path) && existsSync(path)) args.push('--tmpfs', path)
  args.push('--proc', '/proc', '--dev', '/dev')
  if (spec.tmpBytes != null) args.push('--size', String(spec.tmpBytes))
  args.push('--tmpfs', '/tmp', '--dir', '/var/tmp')
  args.push('--bind', spec.view, spec.workspace)
  for (const f of spec.extras) args.push('--ro-bind', f.source, f.at)
  for (const f of spec.outputs) args.push('--bind', f.source, f.at)
  for (const l of spec.exec.links ?? []) args.push('--symlink', l.target, l.at)
  let argv = spec.argv
  if (spec.exec.kind === 'bind') {
    args.push('--ro-bind', spec.exec.source, spec.exec.at)
    if (!spec.exec.asGiven) {
      // bubblewrap 0.8 has no --argv0: bash's exec -a keeps argv[0] as the caller gave it
      const bash = existsSync('/bin/bash') ? '/bin/bash' : undefined
      argv = bash != null ? [bash, '-c', 'exec -a "$0" "$@"', spec.argv[0], spec.exec.at, ...spec.argv.slice(1)] : [spec.exec.at, ...spec.argv.slice(1)]
    }
  }
  args.push('--chdir', spec.cwd, '--clearenv')
  for (const [name, value] of Object.entries(spec.env)) args.push('--setenv', name, value)
  args.push('--', ...argv)
  return { command: bwrap, args, env: { PATH: LAUNCHER_PATH } }
}
