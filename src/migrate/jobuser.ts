/**
 * The account jobs for others run as. A root daemon drops to a dedicated
 * unprivileged system account, `kappa-job` (created on first use, as
 * HTCondor's per-job users or OpenSSH's privilege separation): root outside
 * the job's user namespace is never the job's uid. A daemon that is not root
 * (the systemd user unit) runs jobs as itself, inside bubblewrap's user
 * namespace, with nothing of its home visible.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { logger } from '@libp2p/logger'

const log = logger('kappa:migrate:jobuser')

export const JOB_USER_NAME = 'kappa-job'

export interface JobUser {
  name: string
  uid: number
  gid: number
  /** true: the daemon must drop to it (setpriv) before the launcher; false: it is the daemon's own uid */
  drop: boolean
}

const CLEAN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }

async function run (cmd: string, args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { env: CLEAN_ENV }, (err, stdout, stderr) => {
      if (err == null) resolve(String(stdout))
      else reject(new Error(`${cmd}: ${String(stderr).trim() !== '' ? String(stderr).trim() : err.message}`))
    })
  })
}

/** An account's uid and gid from /etc/passwd (the system's own, no NSS modules needed). */
export async function lookupUser (name: string, passwd = '/etc/passwd'): Promise<{ uid: number, gid: number } | undefined> {
  const text = await readFile(passwd, 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) }
  }
  return undefined
}

/**
 * The job user: the daemon's own uid when it is not root; as root, the
 * `kappa-job` system account, created with useradd when missing. Throws
 * when there is none to be had (fail closed: no job then runs as root).
 */
export async function ensureJobUser (name = JOB_USER_NAME): Promise<JobUser> {
  const uid = process.getuid?.() ?? 65534
  if (uid !== 0) {
    let name = `uid${uid}`
    try { name = userInfo().username } catch (err) { log('no name for uid %d: %s', uid, (err as Error).message) }
    return { name, uid, gid: process.getgid?.() ?? uid, drop: false }
  }
  let found = await lookupUser(name)
  // several daemons starting at once race for /etc/passwd's lock: whoever lost finds the account made, or tries again
  for (let attempt = 0; found == null; attempt++) {
    log('creating the system account %s', name)
    try {
      await run('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name])
    } catch (err) {
      found = await lookupUser(name)
      if (found != null) break
      if (attempt >= 20) throw new Error(`cannot create the job user ${name} (${(err as Error).message}); create it: useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`)
      await new Promise(resolve => setTimeout(resolve, 50 + Math.random() * 200))
    }
    found = await lookupUser(name)
  }
  if (found == null) throw new Error(`the job user ${name} is not in /etc/passwd`)
  if (found.uid === 0 || found.gid === 0) throw new Error(`the job user ${name} has uid or gid 0: it must be an unprivileged account`)
  return { name, uid: found.uid, gid: found.gid, drop: true }
}

/**
 * The command prefix that becomes the job user (as root) and makes the rest
 * die with the daemon (pdeathsig, set after the uid change, which would
 * clear it). Not root: only the pdeathsig.
 */
export function dropArgs (user: JobUser): string[] {
  if (!user.drop) return ['setpriv', '--pdeathsig', 'KILL', '--']
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--pdeathsig', 'KILL', '--']
}
