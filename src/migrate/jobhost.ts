/**
 * The host side of running jobs for others: the sandbox (checked once at
 * start with a real trial run, fail closed), the job user, the job
 * directories (outside the node's home, with a free-space floor), the
 * minimal /etc and the per-job cgroups. `JobRunner` asks it for a job
 * directory, a launch and a verdict; nothing else there knows about users,
 * cgroups or bubblewrap's failures.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, statfsSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { totalmem } from 'node:os'
import { join, dirname } from 'node:path'
import { logger } from '@libp2p/logger'
import { findExecutable } from '../host/requirements.js'
import { formatBytes } from '../units.js'
import { errorMessage } from '../errors.js'
import { ensureJobUser, dropArgs, type JobUser } from './jobuser.js'
import { JobCgroups, enterCgroupArgs, type JobCgroup, type JobLimitSettings, type LimitVerdict } from './limits.js'
import { buildEtc, type EtcPlan } from './etc.js'
import { launchCommand, underSystemDir, LAUNCHER_PATH, type Launch, type LaunchSpec } from './sandbox.js'
import { sweepMounts } from '../workspace/index.js'
import { DEFAULT_JOB_PIDS, JOB_CPU_WEIGHT, JOB_DISK_FLOOR_BYTES, JOB_MEMORY_SHARE } from '../constants.js'

const log = logger('kappa:migrate:jobhost')

export interface JobHostInit {
  /** the node's home (kept out of every job's sight; names this node's job directories and cgroups) */
  home: string
  /** false: --no-sandbox (the owner's explicit choice) */
  sandbox: boolean
  /** bubblewrap's path (default: found on PATH) */
  bwrap?: string
  /** where job directories go (default /var/lib/kappa-node/jobs as root, /var/tmp/kappa-<uid>/jobs otherwise) */
  jobsDir?: string
  /** per-job memory limit (default a share of RAM) */
  memoryBytes?: number
  /** per-job process limit */
  pids?: number
  /** jobs are refused, and a running one stopped, when the job directories' file system has less free */
  diskFloorBytes?: number
}

/** What `start` says about the sandbox, and what `status` shows. */
export interface SandboxStatus {
  /** jobs for others are run ('bwrap': sandboxed; 'none': --no-sandbox) or refused (reason) */
  mode: 'bwrap' | 'none' | 'refused'
  /** why jobs for others are refused (fail closed) */
  refusal?: string
  /** how to fix what is missing */
  fixes: string[]
  /** what holds and what does not (one line each) */
  notes: string[]
  user?: string
  limits: { memoryBytes: number, pids: number, diskFloorBytes: number, cgroups: boolean }
  jobsDir: string
}

/** One job's host resources: its directory, its cgroup. */
export interface JobPlace {
  /** the job directory (0711, the daemon's): its view, its outside files, its output sockets */
  dir: string
  /** undefined where there are no per-job cgroups (rlimits then) */
  cgroup?: JobCgroup
}

/** In each node's job directory: the node's home (orphans are swept by their neighbours). */
const OWNER_FILE = 'home'

const USERNS_FIX = 'user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (Debian), sysctl -w user.max_user_namespaces=15000; on Ubuntu 23.10 and later also sysctl -w kernel.apparmor_restrict_unprivileged_userns=0'

/**
 * Someone else's directory on the way to the job directories (another user
 * made /var/tmp/kappa-<uid> first, a symlink, a directory anyone may write
 * without the sticky bit) would let them swap a job's files: why, or undefined.
 */
export function unsafeAncestor (path: string): string | undefined {
  const uid = process.getuid?.() ?? 0
  let at = '/'
  for (const part of path.split('/').filter(p => p !== '')) {
    at = join(at, part)
    let st
    try {
      st = lstatSync(at)
    } catch (err) {
      return `${at}: ${errorMessage(err)}`
    }
    if (st.isSymbolicLink()) {
      // system symlinks (/var/run → /run) belong to root
      if (st.uid !== 0) return `${at} is a symlink owned by uid ${st.uid}`
      continue
    }
    if (st.uid !== 0 && st.uid !== uid) return `${at} belongs to uid ${st.uid}`
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return `${at} is writable by others`
  }
  return undefined
}

function defaultJobsDir (): string {
  const uid = process.getuid?.() ?? 0
  return uid === 0 ? '/var/lib/kappa-node/jobs' : `/var/tmp/kappa-${uid}/jobs`
}

/** A short stable name of this node (its home): its job directories and cgroups are its own. */
export function nodeKey (home: string): string {
  return createHash('sha256').update(home).digest('hex').slice(0, 12)
}

async function trialRun (command: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null, stderr: string, error?: string }> {
  return await new Promise((resolve) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString() })
    child.once('error', (err) => { resolve({ code: null, stderr, error: err.message }) })
    child.once('close', (code) => { resolve({ code, stderr: stderr.trim() }) })
  })
}

/** Why a trial run of bubblewrap failed, and the fix, from its one line. */
export function diagnoseBwrap (stderr: string, jobsDir: string, user: string): { reason: string, fix: string } {
  const line = stderr.split('\n').find(l => l.trim() !== '') ?? 'no message'
  if (/namespace|uid map|setting up uid|No permission to create new namespace|Operation not permitted/i.test(line)) {
    return { reason: `bubblewrap cannot create a user namespace (${line})`, fix: USERNS_FIX }
  }
  if (/Permission denied|Can't find source path/i.test(line)) {
    return { reason: `the job user ${user} cannot reach the job directory ${jobsDir} (${line})`, fix: `make every parent of ${jobsDir} searchable by others (chmod o+x), or choose another with --jobs-dir` }
  }
  return { reason: `bubblewrap failed its trial run (${line})`, fix: 'check that bubblewrap works: bwrap --ro-bind / / true' }
}

export class JobHost {
  readonly jobsDir: string
  readonly settings: JobLimitSettings & { diskFloorBytes: number }
  status: SandboxStatus
  user?: JobUser
  bwrap?: string
  private etc?: EtcPlan
  private cgroups?: JobCgroups
  private readonly key: string

  constructor (private readonly init: JobHostInit) {
    this.key = nodeKey(init.home)
    this.jobsDir = join(init.jobsDir ?? defaultJobsDir(), this.key)
    this.settings = {
      memoryBytes: init.memoryBytes ?? Math.floor(totalmem() * JOB_MEMORY_SHARE),
      pids: init.pids ?? DEFAULT_JOB_PIDS,
      cpuWeight: JOB_CPU_WEIGHT,
      diskFloorBytes: init.diskFloorBytes ?? JOB_DISK_FLOOR_BYTES
    }
    this.status = { mode: 'refused', refusal: 'the sandbox has not been checked yet', fixes: [], notes: [], limits: { ...this.settings, cgroups: false }, jobsDir: this.jobsDir }
  }

  /**
   * Sweeps what a previous daemon of this node left (job processes by their
   * cgroups, overlays, directories), then checks the sandbox for real.
   * Never throws: what fails is in `status` (refused with a reason and a fix).
   */
  async open (): Promise<SandboxStatus> {
    const notes: string[] = []
    const fixes: string[] = []
    const fail = (refusal: string, fix?: string): SandboxStatus => {
      if (fix != null) fixes.push(fix)
      this.status = { ...this.status, mode: 'refused', refusal, fixes, notes }
      return this.status
    }
    // cgroups first: a leftover job must be dead before its directory goes
    try {
      this.cgroups = await JobCgroups.open(this.key, this.settings)
      const killed = await this.cgroups.sweep()
      if (killed > 0) notes.push(`killed ${killed} job processes a previous daemon left`)
    } catch (err) {
      this.cgroups = undefined
      notes.push(`no per-job cgroups (${errorMessage(err)}): memory is an address-space rlimit and /tmp is sized to it; no process limit`)
    }
    try {
      const swept = await sweepMounts(this.jobsDir)
      if (swept > 0) notes.push(`unmounted ${swept} job overlays a previous daemon left`)
      await rm(this.jobsDir, { recursive: true, force: true })
      await mkdir(this.jobsDir, { recursive: true, mode: 0o711 })
      await chmod(this.jobsDir, 0o711)
      const unsafe = unsafeAncestor(this.jobsDir)
      if (unsafe != null) return fail(`the job directory ${this.jobsDir} is not safe: ${unsafe}`, 'choose another with --jobs-dir')
      // whose job directories these are: a node whose home is gone never comes back to sweep its own
      await writeFile(join(this.jobsDir, OWNER_FILE), this.init.home + '\n', { mode: 0o600 })
      const orphans = await this.sweepOrphans()
      if (orphans > 0) notes.push(`removed the job directories of ${orphans} nodes whose homes are gone`)
    } catch (err) {
      return fail(`cannot make the job directory ${this.jobsDir}: ${errorMessage(err)}`, 'choose another with --jobs-dir')
    }
    try {
      this.user = await ensureJobUser()
    } catch (err) {
      return fail(errorMessage(err))
    }
    if (this.user.drop || !this.init.sandbox) {
      if (findExecutable('setpriv', LAUNCHER_PATH) == null) return fail('setpriv is not installed (it drops jobs to their user and ties them to the daemon)', 'apt-get install util-linux')
    }
    const free = this.freeBytes()
    if (free != null && free < this.settings.diskFloorBytes) notes.push(`only ${formatBytes(free)} free for job directories (${this.jobsDir}): jobs are refused below ${formatBytes(this.settings.diskFloorBytes)}`)
    const limits = { ...this.settings, cgroups: this.cgroups != null }
    if (!this.init.sandbox) {
      this.status = { mode: 'none', fixes, notes, user: this.user.name, limits, jobsDir: this.jobsDir }
      return this.status
    }
    const bwrap = this.init.bwrap ?? findExecutable('bwrap', LAUNCHER_PATH)
    if (bwrap == null || findExecutable(bwrap, LAUNCHER_PATH) == null) return fail(`bubblewrap is not installed${this.init.bwrap != null ? ` (${this.init.bwrap})` : ''}`, 'apt-get install bubblewrap (or dnf install bubblewrap), or start with --no-sandbox to run jobs for others unsandboxed')
    this.bwrap = bwrap
    try {
      this.etc = await buildEtc(join(this.jobsDir, 'etc'), this.user, underSystemDir)
    } catch (err) {
      return fail(`cannot build the jobs' /etc: ${errorMessage(err)}`)
    }
    // the trial: a job's launch as it will be, in a job directory, as the job user, in a cgroup
    const trial = await this.trial()
    if (trial != null) return fail(trial.reason, trial.fix)
    this.status = { mode: 'bwrap', fixes, notes, user: this.user.name, limits, jobsDir: this.jobsDir }
    return this.status
  }

  private async trial (): Promise<{ reason: string, fix: string } | undefined> {
    let place: JobPlace | undefined
    try {
      place = await this.place('trial')
      const view = join(place.dir, 'view')
      this.ownedDir(view)
      const spec: LaunchSpec = { workspace: '/kappa-trial', view, cwd: '/kappa-trial', argv: ['/bin/sh', '-c', 'echo ok > ok && test -r /etc/passwd'], env: { PATH: LAUNCHER_PATH }, exec: { kind: 'as-given' }, extras: [], outputs: [], allowNetwork: false, user: this.userIds(), hide: this.hidden(), etc: this.etc, tmpBytes: this.settings.memoryBytes }
      const launch = this.launch(spec, place)
      const r = await trialRun(launch.command, launch.args, launch.env, place.dir)
      if (r.error != null) return { reason: `the sandbox's launcher did not start (${r.error})`, fix: 'apt-get install bubblewrap util-linux' }
      if (r.code !== 0) return diagnoseBwrap(r.stderr, this.jobsDir, this.user?.name ?? '')
      return undefined
    } catch (err) {
      return { reason: `the sandbox's trial run failed: ${errorMessage(err)}`, fix: 'see the daemon\'s debug log (DEBUG=kappa:migrate:*)' }
    } finally {
      if (place != null) await this.release(place)
    }
  }

  /** Job directories (and cgroups) beside this node's whose node's home no longer exists. */
  private async sweepOrphans (): Promise<number> {
    const base = dirname(this.jobsDir)
    let n = 0
    for (const entry of await readdir(base, { withFileTypes: true }).catch(() => [])) {
      const dir = join(base, entry.name)
      if (!entry.isDirectory() || dir === this.jobsDir || !/^[0-9a-f]{12}$/.test(entry.name)) continue
      const home = (await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim()
      if (home === '' || existsSync(home) || nodeKey(home) !== entry.name) continue
      await JobCgroups.removeAll(entry.name).catch((err) => { log('cgroups of %s: %s', entry.name, errorMessage(err)) })
      await sweepMounts(dir)
      await rm(dir, { recursive: true, force: true })
      n++
    }
    return n
  }

  /** Does this node run jobs for others at all (a working sandbox, or --no-sandbox)? */
  get refusal (): string | undefined {
    return this.status.mode === 'refused' ? `this node has no working sandbox (${this.status.refusal ?? 'unknown'})` : undefined
  }

  /** Free bytes on the job directories' file system (undefined: unknown). */
  freeBytes (): number | undefined {
    try {
      const st = statfsSync(this.jobsDir)
      return Number(st.bavail) * Number(st.bsize)
    } catch {
      try {
        const st = statfsSync(dirname(this.jobsDir))
        return Number(st.bavail) * Number(st.bsize)
      } catch (err) {
        log('statfs %s: %s', this.jobsDir, errorMessage(err))
        return undefined
      }
    }
  }

  /** "the disk floor …" when the job directories' file system is below it. */
  belowFloor (): string | undefined {
    const free = this.freeBytes()
    if (free == null || free >= this.settings.diskFloorBytes) return undefined
    return `disk floor of this node (${formatBytes(free)} free for jobs, ${formatBytes(this.settings.diskFloorBytes)} kept free)`
  }

  /** the jobs' minimal /etc (undefined without a sandbox) */
  get etcPlan (): EtcPlan | undefined {
    return this.etc
  }

  userIds (): { uid: number, gid: number } {
    return { uid: this.user?.uid ?? 65534, gid: this.user?.gid ?? 65534 }
  }

  /** What a job must never see: the node's home and its job directories. */
  hidden (): string[] {
    return [this.init.home, this.jobsDir]
  }

  /** A directory the job user owns (its view, its files). */
  ownedDir (path: string, mode = 0o755): void {
    mkdirSync(path, { recursive: true })
    this.own(path)
    chmodSync(path, mode)
  }

  own (path: string): void {
    if (this.user?.drop === true) chownSync(path, this.user.uid, this.user.gid)
  }

  /** A job directory (fresh, or `made` ahead with a view mounted in it: see jobDir) and the job's cgroup. */
  async place (id: string, made?: string): Promise<JobPlace> {
    const dir = made ?? this.jobDir(id)
    try {
      const cgroup = await this.cgroups?.create(id)
      return { dir, cgroup }
    } catch (err) {
      // a directory made ahead holds a mounted view: its maker releases it
      if (made == null) await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** A fresh job directory: reachable by the job user (0711), owned by the daemon. */
  jobDir (name: string): string {
    // synchronous: a few µs each, where an async call costs a thread-pool round trip (SMALL_FILE_BYTES)
    const dir = mkdtempSync(join(this.jobsDir, `${name}-`))
    chmodSync(dir, 0o711)
    return dir
  }

  async release (place: JobPlace): Promise<void> {
    await place.cgroup?.remove().catch((err) => { log('cgroup: %s', errorMessage(err)) })
    await rm(place.dir, { recursive: true, force: true }).catch((err) => { log('rm %s: %s', place.dir, errorMessage(err)) })
  }

  /**
   * The whole launch chain, every step with a clean environment: a shell
   * that joins the job's cgroup and execs setpriv (the job user, pdeathsig),
   * which execs bubblewrap, which sets the job's environment inside. Without
   * a sandbox (--no-sandbox) `env -i` sets it as the last step before the
   * program, as the job user.
   */
  launch (spec: LaunchSpec, place: JobPlace, unsandboxedCwd?: string): Launch & { cwd?: string } {
    const user = this.user
    if (user == null) throw new Error('no job user')
    let inner: string[]
    // bubblewrap is found only when the sandbox is on (its trial run goes this way too)
    if (this.bwrap != null) {
      const l = launchCommand(this.bwrap, spec)
      inner = [l.command, ...l.args]
    } else {
      const program = spec.exec.kind === 'bind' ? spec.exec.source : spec.argv[0]
      const bash = findExecutable('bash', LAUNCHER_PATH)
      inner = ['env', '-i', ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`)]
      // bash's exec -a keeps argv[0] as the caller gave it
      inner.push(...bash != null ? [bash, '-c', 'exec -a "$0" "$@"', spec.argv[0], program, ...spec.argv.slice(1)] : [program, ...spec.argv.slice(1)])
    }
    // without a cgroup, memory is an address-space rlimit, inherited by everything the job starts
    const rlimit = place.cgroup == null && findExecutable('prlimit', LAUNCHER_PATH) != null ? ['prlimit', `--as=${this.settings.memoryBytes}`, '--'] : []
    // unsandboxed, a root daemon still gives the job a pid namespace of its own, whose first process dies
    // with the daemon (and takes whatever the job left in the background with it), as bubblewrap's does
    const pidNamespace = this.bwrap == null && user.drop && findExecutable('unshare', LAUNCHER_PATH) != null
    const all = [
      ...(place.cgroup != null ? enterCgroupArgs(place.cgroup.procsFiles) : []),
      ...pidNamespace ? ['setpriv', '--pdeathsig', 'KILL', '--', 'unshare', '--pid', '--fork', '--kill-child', '--'] : [],
      ...dropArgs(user),
      // the namespace's pid 1 ignores every signal it has no handler for, so the job must not be it (a SIGINT
      // from the origin did nothing): a shell is pid 1 and waits for the job, which the group's signals reach
      ...pidNamespace ? ['sh', '-c', '"$@"; exit $?', 'kappa-init'] : [],
      ...rlimit,
      ...inner
    ]
    return { command: all[0], args: all.slice(1), env: { PATH: LAUNCHER_PATH }, cwd: unsandboxedCwd }
  }

  async verdict (place: JobPlace): Promise<LimitVerdict | undefined> {
    return await place.cgroup?.verdict()
  }

  /** Daemon stopping: every job of this node is killed (by its cgroup), its directories go. */
  async close (): Promise<void> {
    await this.cgroups?.close().catch((err) => { log('cgroups: %s', errorMessage(err)) })
    await sweepMounts(this.jobsDir).catch((err) => { log('sweep: %s', errorMessage(err)) })
    await rm(this.jobsDir, { recursive: true, force: true }).catch((err) => { log('rm %s: %s', this.jobsDir, errorMessage(err)) })
    // the default place is ours to tidy; a --jobs-dir is the owner's
    if (this.init.jobsDir == null) await rmdir(dirname(this.jobsDir)).catch(() => { /* other nodes' job directories are there */ })
  }
}
