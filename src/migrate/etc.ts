/**
 * The job's /etc: only what programs need to run (name lookup, the dynamic
 * linker's cache, the alternatives `cc` goes through, time zone, TLS
 * certificates…), never shadow, gshadow, sudoers, ssh host keys or anything
 * else of the machine's. passwd and group are written for the job (root,
 * nobody and the job user). Built once per daemon in its job directory;
 * the entries are bound from the live /etc, so a changed resolv.conf is seen.
 */
import { lstatSync, readlinkSync, realpathSync, type Stats } from 'node:fs'
import { chmod, mkdir, rm, writeFile, symlink } from 'node:fs/promises'
import { isAbsolute, join, resolve, dirname } from 'node:path'
import { logger } from '@libp2p/logger'

const log = logger('kappa:migrate:etc')

/** What of the machine's /etc a job sees (each only if it exists). */
export const ETC_ENTRIES = [
  'hosts', 'host.conf', 'resolv.conf', 'nsswitch.conf', 'gai.conf', 'networks', 'protocols', 'services', 'rpc',
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives',
  'localtime', 'timezone', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'pki', 'crypto-policies',
  'mime.types', 'magic', 'magic.mime', 'os-release', 'lsb-release', 'debian_version', 'issue',
  'profile', 'profile.d', 'bash.bashrc', 'inputrc', 'environment', 'locale.alias', 'locale.conf', 'default',
  'xdg', 'fonts', 'mtab', 'shells', 'login.defs', 'papersize', 'gcrypt', 'gnutls', 'python3', 'perl', 'pam.conf'
] as const

/** Never visible, whatever the list above says (a belt over the braces). */
const NEVER = /^(shadow|gshadow|sudoers|ssh|ld\.so\.preload|security|machine-id)/

/** The sandbox's /etc: a directory of placeholders, and what to mount on them. */
export interface EtcPlan {
  dir: string
  binds: Array<{ source: string, at: string }>
}

/** bubblewrap arguments: the plan's directory at /etc, then each live entry bound read-only on its placeholder. */
export function etcArgs (plan: EtcPlan): string[] {
  const args = ['--ro-bind', plan.dir, '/etc']
  for (const b of plan.binds) args.push('--ro-bind', b.source, b.at)
  return args
}

function lstatOrUndefined (path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}

/**
 * Writes the /etc of jobs run as `user` under `dir` (replacing it). A symlink
 * that stays inside the system directories the sandbox shows (`localtime` →
 * /usr/share/zoneinfo/…) is kept as a link; any other entry gets a
 * placeholder with the live file or directory bound on it.
 */
export async function buildEtc (dir: string, user: { name: string, uid: number, gid: number }, visible: (path: string) => boolean, etc = '/etc'): Promise<EtcPlan> {
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true, mode: 0o755 })
  await chmod(dir, 0o755)
  const passwd = ['root:x:0:0:root:/root:/usr/sbin/nologin', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin']
  const group = ['root:x:0:', 'nogroup:x:65534:']
  if (user.uid !== 0 && user.uid !== 65534) passwd.push(`${user.name}:x:${user.uid}:${user.gid}:kappa job:/tmp:/bin/sh`)
  if (user.gid !== 0 && user.gid !== 65534) group.push(`${user.name}:x:${user.gid}:`)
  await writeFile(join(dir, 'passwd'), passwd.join('\n') + '\n', { mode: 0o644 })
  await writeFile(join(dir, 'group'), group.join('\n') + '\n', { mode: 0o644 })
  const binds: EtcPlan['binds'] = []
  for (const name of ETC_ENTRIES) {
    if (NEVER.test(name)) continue
    const live = join(etc, name)
    const st = lstatOrUndefined(live)
    if (st == null) continue
    const placeholder = join(dir, name)
    if (st.isSymbolicLink()) {
      const target = readlinkSync(live)
      const absolute = isAbsolute(target) ? target : resolve(dirname(live), target)
      if (visible(absolute) || absolute.startsWith('/proc/')) {
        await symlink(target.startsWith('/') || !absolute.startsWith('/etc/') ? target : absolute, placeholder)
        continue
      }
      let real: string
      try {
        real = realpathSync(live)
      } catch (err) {
        log('%s: %s', live, (err as Error).message)
        continue
      }
      const rst = lstatOrUndefined(real)
      if (rst == null) continue
      if (rst.isDirectory()) await mkdir(placeholder)
      else await writeFile(placeholder, '')
      binds.push({ source: real, at: `/etc/${name}` })
    } else if (st.isDirectory()) {
      await mkdir(placeholder)
      binds.push({ source: live, at: `/etc/${name}` })
    } else if (st.isFile()) {
      await writeFile(placeholder, '', { mode: 0o644 })
      binds.push({ source: live, at: `/etc/${name}` })
    }
  }
  return { dir, binds }
}
