import { execFile } from 'node:child_process'
import { mkdirSync, statSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { logged } from '../debug.js'
import { CommandShell, COMMAND_ENV } from './command-shell.js'

const log = logger('kappa:view')

/**
 * What a job sees as its workspace on a target. `overlay`: an overlayfs with
 * the mirror as its lower layer and a per-job upper directory, so the job
 * can never change the mirror and its change set is exactly the upper
 * directory. `copy` (no overlay here: not root, old kernel): a per-job copy
 * of the mirror, compared with the tree after the job (cost: a copy and a
 * walk of the whole workspace per job).
 */
export type JobView =
  /** `lowerIno`: the mirror's directory when mounted (one rebuilt from scratch is another) */
  | { kind: 'overlay', merged: string, upper: string, work: string, lower: string, lowerIno: number }
  | { kind: 'copy', merged: string, copiedAtMs: number }

/** mount and umount, a few ms each, go through one long-lived shell (command-shell.ts says why) */
const mounts = new CommandShell()

/** A longer command (a copy of the mirror) in a process of its own, so it never holds up the mounts. */
async function run (cmd: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { env: COMMAND_ENV }, (err, _stdout, stderr) => {
      if (err == null) resolve()
      else reject(new Error(`${cmd}: ${String(stderr).trim() !== '' ? String(stderr).trim() : err.message}`))
    })
  })
}

/** overlayfs option values cannot hold these (separators of its option syntax). */
function overlaySafe (path: string): boolean {
  return !/[,:\\\n]/.test(path)
}

/** Mounts the job's overlay under `jobDir` (lower: the mirror). */
export async function mountOverlay (jobDir: string, lower: string): Promise<JobView> {
  const upper = join(jobDir, 'upper')
  const work = join(jobDir, 'work')
  const merged = join(jobDir, 'merged')
  // synchronous: µs each, where an async call costs a thread-pool round trip (SMALL_FILE_BYTES); one job, one overlay
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true })
  if (![lower, upper, work, merged].every(overlaySafe)) throw new Error('paths unusable as overlay options')
  const lowerIno = statSync(lower).ino
  // no redirects, no metadata-only copy-up: every change lands whole in the upper directory
  await mounts.run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off,index=off`, merged])
  return { kind: 'overlay', merged, upper, work, lower, lowerIno }
}

/**
 * A read-only overlay at `at` showing `lowers` stacked, the first on top
 * (e.g. a toolchain layer over this node's /usr). Nothing can be written
 * through it.
 */
export async function mountReadOnlyOverlay (lowers: string[], at: string): Promise<void> {
  if (lowers.length < 2 || ![...lowers, at].every(overlaySafe)) throw new Error('paths unusable as overlay options')
  await mkdir(at, { recursive: true })
  await mounts.run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')},redirect_dir=off,metacopy=off,index=off`, at])
}

/** Unmounts `at` (detached if it is busy). */
export async function unmount (at: string): Promise<void> {
  try {
    await mounts.run('umount', [at])
  } catch (err) {
    log('umount %s: %s; detaching', at, (err as Error).message)
    await mounts.run('umount', ['-l', at])
  }
}

/** A per-job copy of the mirror (reflinks where the file system has them). */
export async function copyView (jobDir: string, lower: string): Promise<JobView> {
  const merged = join(jobDir, 'merged')
  await mkdir(merged, { recursive: true })
  await run('cp', ['-a', '--reflink=auto', `${lower}/.`, merged])
  return { kind: 'copy', merged, copiedAtMs: Date.now() }
}

export async function releaseView (view: JobView): Promise<void> {
  if (view.kind !== 'overlay') return
  await unmount(view.merged)
}

/** Can this node mount overlays (root, a kernel with overlayfs)? Tried once, for real. */
export async function overlayWorks (scratch: string, lower: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return false
  await mkdir(lower, { recursive: true })
  try {
    const view = await mountOverlay(scratch, lower)
    await releaseView(view)
    return true
  } catch (err) {
    log('overlay unavailable (%s): jobs get a copy of the workspace', (err as Error).message)
    return false
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(logged(log, 'removing the scratch directory'))
  }
}

/** Mount points at or under `dir` in this mount namespace, deepest first. */
export async function mountsUnder (dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const found: string[] = []
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4]
    if (field == null) continue
    const point = field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (point === dir || point.startsWith(`${dir}/`)) found.push(point)
  }
  return found.sort((a, b) => b.length - a.length)
}

/** Unmounts whatever a daemon that died left mounted under `dir` (its job directories). */
export async function sweepMounts (dir: string): Promise<number> {
  const points = await mountsUnder(dir)
  for (const p of points) await mounts.run('umount', ['-l', p]).catch((err) => { log('sweep %s: %s', p, err.message) })
  return points.length
}
