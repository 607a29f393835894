import { setPriority } from 'node:os'
import { appendFileSync, chmodSync, closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, statSync } from 'node:fs'
import { chmod, copyFile, link, mkdir, readFile, rm, stat } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { dirname, join, relative, resolve } from 'node:path'
import { logger } from '@libp2p/logger'
import { Frame, Change, type Job } from '../wire/migrate.js'
import { ProbeResponse } from '../wire/probe.js'
import { FrameChannel, EndOfStreamError } from './channel.js'
import { safeAbsolute } from './files.js'
import { executableMountPoint, unusableMountPoint, underSystemDir, type ExecPlan, type LaunchSpec } from './sandbox.js'
import type { JobHost, JobPlace } from './jobhost.js'
import { JobOutput, socketPair } from './output.js'
import { JobSpawner, type JobChild } from './spawner.js'
import { inspectExecutable } from './exe.js'
import { JobRecorder } from './record.js'
import { findExecutable, machineArch } from '../host/requirements.js'
import { ToolchainCache, decodeManifest, type ToolchainManifest, type ManifestFile } from '../host/toolchain-cache.js'
import { asError, errorMessage } from '../errors.js'
import { shortId } from '../names.js'
import {
  ContentStore, Mirror, mountOverlay, copyView, releaseView, overlayWorks, sweepMounts, computeChanges, entriesOf, hex, unhex,
  isInside, safeVariable, sendVerified, hashFile, ToolchainLayers, layerPlacement, LruMap, MAX_EXTRA_FILES, MAX_MIRRORS, MAX_WORKSPACE_BYTES, MAX_WORKSPACE_FILES, SMALL_FILE_BYTES,
  type Hex, type JobView, type WorkspaceChange, type ToolchainLayer
} from '../workspace/index.js'
import {
  MAX_EXE_BYTES, MAX_OUTPUT_BYTES, MIGRATE_CHUNK_BYTES, MIGRATE_SETUP_TIMEOUT_MS, MAX_ARGV_BYTES, JOB_NICENESS, HEARTBEAT_MS, transferDeadlineMs, JOB_WATCH_MS
} from '../constants.js'
import type { MigrationComponents, ResolvedMigrationInit, JobView as RunningView, MigrationCounters } from './index.js'
import type { Connection, Stream } from '@libp2p/interface'
import type { Socket } from 'node:net'
import { logged } from '../debug.js'
import { serializer, type Serializer } from '../serialize.js'

const log = logger('kappa:migrate:target')

/**
 * The executable's symlink chain as the origin sent it, checked: each link
 * where the sandbox can make one (absolute, normal, outside the system
 * directories, the workspace and /proc, /dev, /sys, /tmp itself), each the
 * one the previous link names; undefined when it is unusable (the job then
 * goes without it).
 */
function exeLinks (job: Job): { links: Array<{ at: string, target: string }>, file: string } | undefined {
  const exe = job.exe
  if (exe == null || exe.links.length === 0 || exe.links.length > 40) return undefined
  let at = exe.path
  const links: Array<{ at: string, target: string }> = []
  for (const l of exe.links) {
    if (l.path !== at || !safeAbsolute(l.path) || underSystemDir(l.path) || isInside(job.workspace, l.path) || /^\/(proc|dev|sys|tmp)$|^\/(proc|dev|sys)\//.test(l.path)) return undefined
    if (l.target === '' || l.target.length > 4096 || l.target.includes('\0')) return undefined
    links.push({ at: l.path, target: l.target })
    at = resolve(dirname(l.path), l.target)
  }
  if (!safeAbsolute(at)) return undefined
  return { links, file: at }
}

/** The PATH a job gets when the origin sent none. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'
const CHANGE_KINDS = { delete: Change.Kind.DELETE, directory: Change.Kind.DIRECTORY, file: Change.Kind.FILE, symlink: Change.Kind.SYMLINK, mode: Change.Kind.MODE }

/** Changes per CHANGES frame. */
const CHANGES_PER_FRAME = 2000
/** Rounds of "send me these directories" before the target gives up on an origin. */
const MAX_TREE_ROUNDS = 3

interface RunningJob {
  view: RunningView
  child?: JobChild
  /** the id of the ticket the job came with (pending work on this node until it ran) */
  ticket?: string
  /** the metric was told the job ended */
  done?: boolean
}

interface Needs {
  /** blobs the job needs that the store lacks, with their sizes */
  missing: Map<Hex, number>
  /** every blob the job needs from the store (pinned while it runs) */
  needed: Set<Hex>
  /** directories the store lacks */
  directories: Hex[]
}

/** The target side of /kappa/migrate/3: admission, the store, the mirror, the job's view, the sandboxed run, the change set. */
export class JobRunner {
  readonly running = new Map<string, RunningJob>()
  readonly store: ContentStore
  private readonly mirrors = new Map<string, { mirror: Mirror, opened: Promise<void> }>()
  private readonly jobsDir: string
  private readonly mirrorsDir: string
  private readonly logFile: string
  private viewKind?: Promise<'overlay' | 'copy'>
  /** the origin's files shown over the system directories, per toolchain */
  private readonly layers: ToolchainLayers
  /** overlays mounted ahead of the next job, per mirror (a mount costs 100-200 ms on a loaded target) */
  private readonly views = new ViewPool(async (mirror) => {
    // a job directory without its cgroup: that is made when a job takes it (nothing of an idle node stays in the cgroup tree)
    const dir = this.host.jobDir('ahead')
    try {
      this.host.ownedDir(join(dir, 'upper'))
      return { jobDir: dir, view: await mountOverlay(dir, mirror.tree) }
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  })

  /** decoded manifests, by digest */
  private readonly manifests = new LruMap<Hex, ToolchainManifest>(16)
  /** per origin peer: its jobs' tree and blob exchanges, one at a time (entries go when idle) */
  private readonly syncs = new Map<string, { turn: Serializer, waiting: number }>()
  /** forks the jobs' sandboxes (spawner.ts says why not the daemon) */
  private readonly spawner = new JobSpawner()

  /** `toolchains`: which files of a toolchain this node holds with other content, revalidated by stat (shared with the origin side) */
  constructor (private readonly components: MigrationComponents, private readonly init: ResolvedMigrationInit, private readonly counters: MigrationCounters, private readonly host: JobHost, private readonly toolchains: ToolchainCache) {
    this.jobsDir = host.jobsDir
    this.mirrorsDir = join(components.home, 'mirrors')
    this.logFile = join(components.home, 'jobs.log')
    this.store = new ContentStore(join(components.home, 'store'), init.storeBytes)
    // beside the job directories: the job user reaches them there (the home is the daemon's alone, 0700)
    this.layers = new ToolchainLayers(join(host.jobsDir, 'toolchains'), this.store)
  }

  async start (): Promise<void> {
    await this.store.open()
    // the executable cache of earlier versions is part of the store now
    await rm(join(this.components.home, 'cache'), { recursive: true, force: true })
    // job directories were in the home before they moved out of it (a job filling one starved the trust store)
    const old = join(this.components.home, 'jobs')
    const swept = await sweepMounts(old)
    if (swept > 0) log('unmounted %d overlays a previous daemon left', swept)
    await rm(old, { recursive: true, force: true })
    // job processes, overlays and directories of a daemon that died are swept here; then the sandbox's trial run
    await this.host.open()
    await mkdir(this.mirrorsDir, { recursive: true, mode: 0o700 })
    // overlay or copy, tried for real once, as part of the sandbox's check (a job user's view needs no root later)
    if (this.host.status.mode !== 'refused') {
      const kind = await this.jobViewKind()
      if (kind === 'copy' && this.init.view === 'auto') this.host.status.notes.push('no overlay mounts here (not root, or no overlayfs): each job gets a copy of its workspace')
    }
    await this.layers.open()
  }

  /** Unmounts the toolchain layers and the views mounted ahead (daemon stopping, after `stop`). */
  async close (): Promise<void> {
    this.spawner.close()
    await this.views.close()
    await this.layers.close()
  }

  /** Overlay or copy: tried once for real (at start, with the sandbox's check). */
  private async jobViewKind (): Promise<'overlay' | 'copy'> {
    if (this.init.view !== 'auto') return this.init.view
    this.viewKind ??= overlayWorks(join(this.jobsDir, '.probe'), join(this.jobsDir, '.probe-lower')).then(async (works) => {
      await rm(join(this.jobsDir, '.probe-lower'), { recursive: true, force: true })
      return works ? 'overlay' : 'copy'
    })
    return await this.viewKind
  }

  /** Kill every job (daemon stopping): their process groups, then whatever is left in their cgroups. */
  async stop (): Promise<void> {
    for (const job of this.running.values()) killGroup(job.child, 'SIGKILL')
    await this.host.close()
  }

  async onStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const bulk = this.components.bulk
    const channel = new FrameChannel(stream, bulk != null ? { offer: () => bulk.offer() } : {})
    let setup = AbortSignal.timeout(MIGRATE_SETUP_TIMEOUT_MS)
    const id = randomBytes(6).toString('hex')
    let jobDir: string | undefined
    let place: JobPlace | undefined
    let view: JobView | undefined
    let reserved = false
    let mirror: Mirror | undefined
    let pinned: Hex[] = []
    let layer: ToolchainLayer | undefined
    const line: Record<string, unknown> = { time: new Date().toISOString(), id, origin: remote }
    const began = performance.now()
    // ms since the request, per step (in the job log: where a job's time went)
    const phases: Record<string, number> = {}
    const phase = (name: string): void => { phases[name] = Math.round((performance.now() - began) * 10) / 10 }
    line.phases = phases
    const record = new JobRecorder(this.components.events, { id: `in-${id}`, direction: 'in', origin: remote, target: this.components.libp2p.peerId.toString(), argv: [] })
    try {
      let first: Frame
      try {
        first = await channel.read(setup)
      } catch (err) {
        // a stream the origin opened while its probe was out, for a job that went elsewhere: nothing happened
        if (err instanceof EndOfStreamError) { channel.abort(err); return }
        throw err
      }
      if (first.type !== Frame.Type.REQUEST || first.job == null) throw new Error('expected a job request')
      const job = first.job
      if (first.probe.byteLength > 0) {
        // the placement probe came with the job (protocols/migrate.proto): answered first, as on a probe stream
        const answer = await this.components.overlay.answer(remote, first.probe)
        const mine = answer.status === ProbeResponse.Status.REPLY && answer.target === this.components.libp2p.peerId.toString()
        await channel.write({ type: Frame.Type.PROBE, probeAnswer: ProbeResponse.encode(mine ? { ...answer, ticket: new Uint8Array(0) } : answer) }, setup)
        if (!mine) {
          // declined, or a node further on is the target: the origin goes on from here, nothing ran
          await channel.close(setup).catch(logged(log, 'closing the job stream after the probe\'s answer'))
          return
        }
        // admitted as any job with the ticket the answer issued
        job.ticket = answer.ticket
      }
      this.counters.jobsIn++
      phase('request')
      // the rest of the set-up grows with the workspace the request announces (its first sync: directories, mirror)
      const setupMs = transferDeadlineMs(Math.min(Number(job.treeBytes), MAX_WORKSPACE_BYTES), Math.min(Number(job.treeFiles), MAX_WORKSPACE_FILES))
      setup = AbortSignal.timeout(setupMs)
      record.job.argv = job.argv
      record.job.cwd = job.cwd
      Object.assign(line, { argv: job.argv, cwd: job.cwd, workspace: job.workspace })
      const admitted = this.redeem(remote, job)
      const refusal = admitted.refusal ?? this.admit(job)
      if (refusal != null) {
        // a spent ticket whose job will not run counts as pending work no more
        if (admitted.ticket != null) this.tellJobDone(admitted.ticket)
        await this.refuse(channel, refusal, line, record, setup)
        return
      }
      reserved = true
      this.running.set(id, { view: { id, peer: remote, argv0: job.argv[0], startedAt: Date.now() }, ticket: admitted.ticket })
      const traffic = { directories: 0, blobs: 0, workspaceBytes: 0, exeBytes: 0, toolchainBytes: 0 }
      // copies: a frame's bytes may be reused once the next one is read
      let manifestBytes: Uint8Array | undefined = first.toolchain.byteLength > 0 ? Uint8Array.from(first.toolchain) : undefined

      // the tree: directories the origin pushed, then whatever else is missing
      const readTree = async (frames: number | undefined): Promise<void> => {
        for (let i = 0; frames == null || i < frames; i++) {
          const f = await channel.read(setup)
          if (f.type !== Frame.Type.TREE) throw new Error('expected TREE')
          if (f.toolchain.byteLength > 0) { manifestBytes = Uint8Array.from(f.toolchain); continue }
          if (frames == null && f.directories.length === 0) return
          for (const bytes of f.directories) {
            await this.store.putDirectory(bytes)
            traffic.directories++
            traffic.workspaceBytes += bytes.byteLength
          }
        }
      }
      await readTree(job.treeFrames)
      // the toolchain: which of the origin's files this node lacks, shown over its own (docs/toolchain.md)
      const tcDigest = job.toolchain.byteLength === 32 ? hex(job.toolchain) : undefined
      let manifest: ToolchainManifest | undefined
      let toolFiles: ManifestFile[] = []
      if (tcDigest != null) {
        manifest = await this.manifest(tcDigest, manifestBytes)
        if (manifest == null) {
          // not sent, not stored: asked for as a directory would be
          await channel.write({ type: Frame.Type.ACCEPT, missingDirectories: [unhex(tcDigest)] }, setup)
          await readTree(undefined)
          manifest = await this.manifest(tcDigest, manifestBytes)
          if (manifest == null) throw new Error('the origin did not send the toolchain manifest')
        }
        const differing = await this.toolchains.differing(manifest)
        toolFiles = manifest.files.filter(f => differing.has(f.path) && layerPlacement(f.path) != null)
        Object.assign(line, { toolchain: tcDigest.slice(0, 16), toolchainFiles: manifest.files.length, toolchainDiffering: toolFiles.length })
        phase('toolchain')
        if (toolFiles.length > 0 && (this.host.status.mode !== 'bwrap' || await this.jobViewKind() !== 'overlay')) {
          const refusal = `this node's ${toolFiles[0].path}${toolFiles.length > 1 ? ` and ${toolFiles.length - 1} more toolchain files` : ''} differ from the origin's, and without a sandbox and overlays (root) it cannot show the origin's`
          await this.refuse(channel, refusal, line, record, setup)
          return
        }
      }
      mirror = await this.mirrorFor(remote, job.workspace)
      const exe = await this.planExecutable(job, new Set(toolFiles.map(f => f.path)))
      const extras = job.extras.map((f, i) => ({ ...f, digest: hex(f.digest), source: '', index: i }))
      // one origin's jobs sync one at a time: concurrent first jobs (make -j8 to a new peer) would
      // each find the whole workspace missing and each receive it; in turn, the second asks only for
      // what the first did not bring (in steady state a few KiB, so the wait is short)
      const jobMirror = mirror
      await this.syncTurn(remote, async () => {
        // the wait for this origin's earlier job to sync (a first sync of thousands of files) is not this job's slowness
        setup = AbortSignal.timeout(setupMs)
        let needs: Needs
        for (let round = 0; ; round++) {
          needs = await this.needs(job, jobMirror)
          for (const x of [...(exe.blob != null ? [{ digest: exe.blob, size: Number(job.exe?.size ?? 0n) }] : []), ...extras.map(e => ({ digest: e.digest, size: Number(e.size) })), ...toolFiles.map(f => ({ digest: f.sha256, size: f.size }))]) {
            needs.needed.add(x.digest)
            if (!this.store.hasBlob(x.digest)) needs.missing.set(x.digest, x.size)
          }
          if (needs.directories.length === 0) break
          if (round >= MAX_TREE_ROUNDS) throw new Error('the origin did not send the directories asked for')
          await channel.write({ type: Frame.Type.ACCEPT, missingDirectories: needs.directories.map(unhex) }, setup)
          await readTree(undefined)
        }
        pinned = this.store.pin(needs.needed)
        await channel.write({ type: Frame.Type.ACCEPT, missingBlobs: [...needs.missing.keys()].map(unhex) }, setup)
        // a big first sync gets the time it needs
        let missingBytes = 0
        for (const size of needs.missing.values()) missingBytes += size
        await this.receiveBlobs(channel, needs.missing, exe.blob, new Set(toolFiles.map(f => f.sha256)), traffic, AbortSignal.timeout(transferDeadlineMs(missingBytes, needs.missing.size)))
      })
      record.job.bytesReceived.workspace = traffic.workspaceBytes
      record.job.bytesReceived.executable = traffic.exeBytes + traffic.toolchainBytes
      record.job.cached = traffic.workspaceBytes === 0 && traffic.exeBytes === 0 && traffic.toolchainBytes === 0
      Object.assign(line, { workspaceDirectoriesReceived: traffic.directories, workspaceBlobsReceived: traffic.blobs, workspaceBytesReceived: traffic.workspaceBytes, exeBytesReceived: traffic.exeBytes, toolchainBytesReceived: traffic.toolchainBytes, exeCached: exe.blob == null || traffic.exeBytes === 0 })
      if (exe.blob == null || traffic.exeBytes === 0) this.counters.exeCacheHits++

      phase('received')
      if (tcDigest != null && toolFiles.length > 0) {
        layer = await this.layers.acquire(tcDigest, toolFiles)
        phase('layer')
      }
      const update = await mirror.update(hex(job.rootDigest), job.rootMode)
      phase('mirror')
      Object.assign(line, { mirrorWritten: update.written, mirrorRemoved: update.removed })
      const lower = mirror
      const viewKind = await this.jobViewKind()
      // an overlay mounted ahead for this mirror (nobody looked into it yet: it shows the mirror as updated)
      const ready = viewKind === 'overlay' ? await this.views.take(lower) : undefined
      if (ready != null) {
        view = ready.view
        place = await this.host.place(id, ready.jobDir).catch(async (err) => {
          await releaseView(ready.view).catch((e) => { log('release view: %s', errorMessage(e)) })
          await rm(ready.jobDir, { recursive: true, force: true })
          throw err
        })
        jobDir = place.dir
        // the merged root is the upper directory's: the job's own, with the workspace root's mode
        chmodSync(view.merged, job.rootMode & 0o7777)
        phase('jobdir')
      } else {
        place = await this.host.place(id)
        jobDir = place.dir
        phase('jobdir')
        if (viewKind === 'overlay') {
          this.host.ownedDir(join(jobDir, 'upper'), job.rootMode & 0o7777)
          view = await mountOverlay(jobDir, lower.tree)
        } else {
          view = await lower.stable(async () => await copyView(jobDir as string, lower.tree))
        }
      }
      if (viewKind === 'overlay') this.views.refill(lower)
      phase('view')
      const { extraFiles, outputFiles, outputsBefore } = await this.placeFiles(jobDir, job, extras)
      // in the job directory: the job user cannot reach the store in the node's home (blobs are read-only, 0555)
      if (exe.plan.kind === 'bind') exe.plan.source = await this.linkExecutable(exe.blob as Hex, join(jobDir, 'exe'))
      phase('files')
      await this.run(channel, job, id, place, view, exe.plan, extraFiles, outputFiles, outputsBefore, line, record, phase, layer?.systemDirs)
    } catch (err) {
      Object.assign(line, { error: errorMessage(err) })
      record.end({ outcome: record.started ? 'lost' : 'refused', reason: errorMessage(err) })
      channel.abort(asError(err))
    } finally {
      if (reserved) {
        // a job that never ran (set-up failed) ends here too: its ticket counts no more
        this.jobDone(id)
        this.running.delete(id)
      }
      this.store.unpin(pinned)
      if (layer != null) this.layers.release(layer)
      if (mirror != null) { mirror.users--; mirror.lastUsed = Date.now() }
      // the cgroup first: nothing of the job may still write into its directory
      await place?.cgroup?.remove().catch((err) => { log('job cgroup: %s', errorMessage(err)) })
      if (view != null) await releaseView(view).catch((err) => { log('release view: %s', errorMessage(err)) })
      if (place != null) await this.host.release(place)
      // a stream that never carried a request (the origin opened it while its probe was out, and the job went
      // elsewhere) is no job: the log would show an entry without one
      if (line.argv != null) await this.writeLog(line)
      else if (line.error != null) log('a job stream ended before its request: %s', line.error)
    }
  }

  /** Files outside the workspace, as copies with their modes (never the stored file itself), and the named outputs, in the job directory. */
  private async placeFiles (jobDir: string, job: Job, extras: Array<{ path: string, digest: Hex, mode: number, index: number, source: string }>): Promise<{ extraFiles: LaunchSpec['extras'], outputFiles: LaunchSpec['outputs'], outputsBefore: number[] }> {
    const extraDir = join(jobDir, 'extras')
    const outputDir = join(jobDir, 'outputs')
    // the per-job steps below use synchronous calls: each costs µs, an async one a thread-pool round trip (SMALL_FILE_BYTES)
    mkdirSync(extraDir)
    mkdirSync(outputDir)
    const extraFiles: LaunchSpec['extras'] = []
    for (const e of extras) {
      e.source = join(extraDir, String(e.index))
      await copyFile(this.store.blobPath(e.digest), e.source, fsConstants.COPYFILE_FICLONE)
      this.host.own(e.source)
      chmodSync(e.source, e.mode & 0o777)
      if (!job.outputs.includes(e.path)) extraFiles.push({ source: e.source, at: e.path })
    }
    const outputFiles: LaunchSpec['outputs'] = []
    for (const [i, path] of job.outputs.entries()) {
      const source = join(outputDir, String(i))
      const named = extras.find(e => e.path === path)
      if (named != null) await copyFile(named.source, source)
      else closeSync(openSync(source, 'w', 0o666 & ~job.umask))
      this.host.own(source)
      outputFiles.push({ source, at: path })
    }
    const outputsBefore = outputFiles.map(o => statSync(o.source).mtimeMs)
    return { extraFiles, outputFiles, outputsBefore }
  }

  /** The toolchain manifest `digest`: as sent (then stored), or from the store; undefined when neither has it. */
  private async manifest (digest: Hex, sent: Uint8Array | undefined): Promise<ToolchainManifest | undefined> {
    const known = this.manifests.get(digest)
    if (known != null) return known
    let bytes = sent
    if (bytes == null && this.store.hasBlob(digest)) bytes = await readFile(this.store.blobPath(digest)).catch(() => undefined)
    if (bytes == null) return undefined
    const manifest = decodeManifest(bytes, digest)
    if (!this.store.hasBlob(digest)) {
      const blob = await this.store.receive(digest, bytes.byteLength)
      try {
        await blob.write(bytes)
        await blob.finish()
      } catch (err) {
        await blob.discard()
        throw err
      }
    }
    this.manifests.set(digest, manifest)
    return manifest
  }

  /** One JSON line per job in `$KAPPA_HOME/jobs.log`, written once. */
  private async writeLog (entry: Record<string, unknown>): Promise<void> {
    if (entry.endedAt != null) return
    entry.endedAt = new Date().toISOString()
    try {
      appendFileSync(this.logFile, JSON.stringify(entry) + '\n', { mode: 0o600 })
    } catch (err) {
      log('jobs.log: %s', errorMessage(err))
    }
  }

  /** A hard link to the stored executable in the job directory (a copy across file systems). */
  private async linkExecutable (digest: Hex, at: string): Promise<string> {
    await link(this.store.blobPath(digest), at).catch(async (err) => {
      if (err.code !== 'EXDEV') throw err
      await copyFile(this.store.blobPath(digest), at, fsConstants.COPYFILE_FICLONE)
      await chmod(at, 0o555)
    })
    return at
  }

  /** The metric hears once that job `id` is over (it ran and exited, or never ran). */
  private jobDone (id: string): void {
    const entry = this.running.get(id)
    if (entry == null || entry.done === true) return
    entry.done = true
    this.tellJobDone(entry.ticket)
  }

  private tellJobDone (ticket: string | undefined): void {
    try {
      this.components.onJobDone?.(ticket)
    } catch (err) {
      log('telling the metric a job ended: %s', errorMessage(err))
    }
  }

  /** Spends the ticket the job carries: its id, or why the job cannot run here (a stranger without a good one). */
  private redeem (remote: string, job: Job): { refusal?: string, ticket?: string } {
    const paired = this.components.trust.has(remote)
    if (job.ticket.length > 0) {
      const r = this.components.tickets.redeem(remote, job.ticket)
      if (r.ok) return { ticket: r.ticket.id }
      return paired ? {} : { refusal: r.reason }
    }
    return paired ? {} : { refusal: 'not paired with this node and no migration ticket' }
  }

  /** Why this job cannot run here, or undefined (its ticket redeemed already). */
  private admit (job: Job): string | undefined {
    // fail closed: no working sandbox (and no --no-sandbox), no jobs for others
    const refusal = this.host.refusal
    if (refusal != null) return refusal
    const floor = this.host.belowFloor()
    if (floor != null) return `low on disk: ${floor}`
    if (this.running.size >= this.init.maxJobs) return `busy: ${this.running.size} jobs running here (limit ${this.init.maxJobs})`
    if (job.argv.length === 0 || job.argv[0] === '' || job.argv.some(a => a.includes('\0'))) return 'empty or malformed argv'
    if (job.argv.reduce((n, a) => n + a.length, 0) > MAX_ARGV_BYTES) return `argv over ${MAX_ARGV_BYTES} bytes`
    if (!safeAbsolute(job.workspace)) return 'malformed workspace path'
    const unusable = unusableMountPoint(job.workspace)
    if (unusable != null) return unusable
    if (!safeAbsolute(job.cwd) && job.cwd !== job.workspace) return 'malformed working directory'
    if (!isInside(job.workspace, job.cwd)) return 'the working directory is not inside the workspace'
    if (job.rootDigest.length !== 32) return 'malformed workspace digest'
    if (job.treeFiles > BigInt(MAX_WORKSPACE_FILES) || job.treeBytes > BigInt(MAX_WORKSPACE_BYTES)) return `workspace over this node's limits (${MAX_WORKSPACE_FILES} files, ${MAX_WORKSPACE_BYTES / 2 ** 30} GiB)`
    if (job.env.some(v => !safeVariable(v.name, v.value))) return 'malformed environment'
    if (job.umask > 0o777) return 'malformed umask'
    const exe = job.exe
    if (exe == null || !safeAbsolute(exe.path) || exe.digest.length !== 32) return 'malformed executable'
    if (exe.size > BigInt(MAX_EXE_BYTES)) return `executable over the ${MAX_EXE_BYTES / 2 ** 20} MiB limit`
    if (exe.arch !== '' && exe.arch !== machineArch()) return `executable is for ${exe.arch}, this node is ${machineArch()}`
    if (exe.interpreter !== '' && findExecutable(exe.interpreter, DEFAULT_PATH) == null) return `interpreter ${exe.interpreter} is not installed here`
    if (job.extras.length > MAX_EXTRA_FILES) return 'too many files outside the workspace'
    let extraBytes = 0n
    for (const f of job.extras) {
      if (!safeAbsolute(f.path) || f.digest.length !== 32 || isInside(job.workspace, f.path) || underSystemDir(f.path) || /^\/(proc|dev|sys)(\/|$)/.test(f.path)) return `unusable file outside the workspace '${f.path}'`
      extraBytes += f.size
    }
    if (extraBytes > BigInt(MAX_WORKSPACE_BYTES)) return 'files outside the workspace over this node\'s limit'
    for (const o of job.outputs) {
      if (!safeAbsolute(o) || isInside(job.workspace, o) || underSystemDir(o) || /^\/(proc|dev|sys)(\/|$)/.test(o)) return `unusable --output path '${o}'`
    }
    return undefined
  }

  /**
   * How to start the program so that argv[0] and a script's $0 stay as the
   * caller gave them: as given when it resolves here to the same file (in
   * the workspace, or the same content at the same path); else the origin's
   * executable mounted at its path (or under /kappa-bin, with exec -a).
   */
  private async planExecutable (job: Job, layered: Set<string>): Promise<{ plan: ExecPlan, blob?: Hex }> {
    const exe = job.exe as NonNullable<Job['exe']>
    if (exe.inWorkspace) return { plan: { kind: 'as-given' } }
    const digest = hex(exe.digest)
    const path = job.env.find(v => v.name === 'PATH')?.value ?? DEFAULT_PATH
    // a symlink chain from the named path to the file (my-cc → cc-alias → /usr/bin/cc): made in the sandbox
    const chain = exeLinks(job)
    const file = chain?.file ?? exe.path
    const links = chain?.links ?? []
    const named = links.length > 0 ? exe.path : undefined
    // the toolchain layer shows the origin's file at its path
    if (layered.has(file) && this.resolves(job, path, exe.path, named ?? file) === exe.path) return { plan: { kind: 'as-given', links } }
    // only system directories (and the workspace) are visible in the sandbox: elsewhere, this node's own file is no use
    const own = underSystemDir(file) ? await inspectExecutable(file).catch(() => undefined) : undefined
    if (own != null && hex(own.sha256) === digest && this.resolves(job, path, exe.path, named) === exe.path) return { plan: { kind: 'as-given', links } }
    const at = executableMountPoint(file)
    if (at !== file) {
      // no file stands there to mount over: under /kappa-bin, started with exec -a (the chain is of no use then)
      return { plan: { kind: 'bind', source: '', at, asGiven: false }, blob: digest }
    }
    const asGiven = this.resolves(job, path, exe.path, named ?? at) === exe.path
    return { plan: { kind: 'bind', source: '', at, asGiven, links: asGiven ? links : [] }, blob: digest }
  }

  /** What argv[0] resolves to inside the sandbox, where only system directories, the workspace and `mounted` are visible. */
  private resolves (job: Job, path: string, target: string, mounted?: string): string | undefined {
    const argv0 = job.argv[0]
    if (argv0.includes('/')) return resolve(job.cwd, argv0)
    for (const dir of path.split(':')) {
      if (dir === '' || !dir.startsWith('/')) continue
      const candidate = join(dir, argv0)
      if (candidate === mounted || (candidate === target && mounted == null && underSystemDir(candidate) && existsSync(candidate))) return candidate
      // the workspace holds nothing the origin did not find first; other directories are invisible in the sandbox
      if (underSystemDir(dir) && findExecutable(argv0, dir) != null) return candidate
    }
    return undefined
  }

  /**
   * The directories and blobs this job needs that the store lacks. Only the
   * subtrees that differ from the mirror's are walked: what the mirror
   * already holds is neither needed nor looked at.
   */
  private async needs (job: Job, mirror: Mirror): Promise<Needs> {
    const out: Needs = { missing: new Map(), needed: new Set(), directories: [] }
    const walk = async (digest: Hex, was: Hex | undefined): Promise<void> => {
      if (digest === was) return
      const dir = await this.store.loadDirectory(digest)
      if (dir == null) { out.directories.push(digest); return }
      const old = was != null ? await this.store.loadDirectory(was) : undefined
      const before = old != null ? entriesOf(old) : new Map()
      for (const [name, e] of entriesOf(dir)) {
        const o = before.get(name)
        if (e.kind === 'file') {
          if (o?.kind === 'file' && o.digest === e.digest) continue
          out.needed.add(e.digest)
          if (!this.store.hasBlob(e.digest)) out.missing.set(e.digest, e.size)
        } else if (e.kind === 'dir') {
          await walk(e.digest, o?.kind === 'dir' ? o.digest : undefined)
        }
      }
    }
    await walk(hex(job.rootDigest), mirror.digest)
    let bytes = 0
    for (const size of out.missing.values()) bytes += size
    if (bytes > MAX_WORKSPACE_BYTES) throw new Error('workspace over this node\'s limits')
    return out
  }

  /** `fn` in `origin`'s sync turn: after every exchange of its jobs that asked before. */
  private async syncTurn (origin: string, fn: () => Promise<void>): Promise<void> {
    let sync = this.syncs.get(origin)
    if (sync == null) {
      sync = { turn: serializer(log), waiting: 0 }
      this.syncs.set(origin, sync)
    }
    sync.waiting++
    try {
      await sync.turn(fn)
    } finally {
      if (--sync.waiting === 0) this.syncs.delete(origin)
    }
  }

  /** The blobs asked for, each as BLOB + DATA frames, verified as they are stored. */
  private async receiveBlobs (channel: FrameChannel, missing: Map<Hex, number>, exeBlob: Hex | undefined, toolchain: Set<Hex>, traffic: { blobs: number, workspaceBytes: number, exeBytes: number, toolchainBytes: number }, signal: AbortSignal): Promise<void> {
    const waiting = new Map(missing)
    while (waiting.size > 0) {
      const frame = await channel.read(signal)
      if (frame.type !== Frame.Type.BLOB || frame.blob == null) throw new Error('expected BLOB')
      const digest = hex(frame.blob.digest)
      const size = waiting.get(digest)
      if (size == null || BigInt(size) !== frame.blob.size) throw new Error(`unexpected blob ${digest.slice(0, 12)}`)
      waiting.delete(digest)
      if (frame.data.byteLength === size && size <= SMALL_FILE_BYTES) {
        await this.store.putSmall(digest, frame.data)
        this.countBlob(digest, size, exeBlob, toolchain, traffic)
        continue
      }
      const blob = await this.store.receive(digest, size)
      try {
        if (frame.data.byteLength > 0) await blob.write(frame.data)
        while (!blob.complete) {
          const data = await channel.read(signal)
          if (data.type !== Frame.Type.DATA) throw new Error('expected blob data')
          await blob.write(data.data)
        }
        await blob.finish()
      } catch (err) {
        await blob.discard()
        throw err
      }
      this.countBlob(digest, size, exeBlob, toolchain, traffic)
    }
  }

  private countBlob (digest: Hex, size: number, exeBlob: Hex | undefined, toolchain: Set<Hex>, traffic: { blobs: number, workspaceBytes: number, exeBytes: number, toolchainBytes: number }): void {
    if (digest === exeBlob || toolchain.has(digest)) {
      // the executable's toolchain counts as the executable
      if (digest === exeBlob) traffic.exeBytes += size
      else traffic.toolchainBytes += size
      this.counters.exeBytesReceived += size
    } else {
      traffic.blobs++
      traffic.workspaceBytes += size
      this.counters.workspaceBytesReceived += size
    }
  }

  /** The mirror of `origin`'s workspace at `root` (one per pair), opened or made. */
  private async mirrorFor (origin: string, root: string): Promise<Mirror> {
    // per job user too: a mirror's files are owned by the uid its jobs run as
    const key = createHash('sha256').update(`${origin}\0${root}\0${this.host.user?.uid ?? ''}`).digest('hex').slice(0, 32)
    let entry = this.mirrors.get(key)
    if (entry == null) {
      // in the map at once: concurrent jobs of one workspace share one mirror
      // its files are the job user's own: a job appends, chmods and removes in its workspace as at home
      const user = this.host.user
      const mirror = new Mirror(join(this.mirrorsDir, key), this.store, user?.drop === true ? { uid: user.uid, gid: user.gid } : undefined)
      entry = { mirror, opened: mirror.open() }
      this.mirrors.set(key, entry)
      // the least recently used mirrors nobody runs in go
      const idle = [...this.mirrors.entries()].filter(([, m]) => m.mirror.users === 0 && m.mirror !== mirror).sort((a, b) => a[1].mirror.lastUsed - b[1].mirror.lastUsed)
      while (this.mirrors.size > MAX_MIRRORS && idle.length > 0) {
        const [k, m] = idle.shift() as [string, { mirror: Mirror }]
        this.mirrors.delete(k)
        await this.views.drop(m.mirror)
        await m.mirror.remove()
      }
    }
    entry.mirror.lastUsed = Date.now()
    entry.mirror.users++
    try {
      await entry.opened
    } catch (err) {
      entry.mirror.users--
      this.mirrors.delete(key)
      throw err
    }
    return entry.mirror
  }

  /** Say no to the origin (it runs the job at home), with the reason in the job log and the job history. */
  private async refuse (channel: FrameChannel, refusal: string, line: Record<string, unknown>, record: JobRecorder, signal: AbortSignal): Promise<void> {
    this.counters.refused++
    Object.assign(line, { refused: refusal })
    record.end({ outcome: 'refused', reason: refusal })
    await this.writeLog(line)
    await channel.write({ type: Frame.Type.REFUSE, message: refusal }, signal)
    await channel.close(signal).catch(logged(log, 'closing the job stream'))
  }

  private async run (channel: FrameChannel, job: Job, id: string, place: JobPlace, view: JobView, exec: ExecPlan, extras: LaunchSpec['extras'], outputs: LaunchSpec['outputs'], outputsBefore: number[], line: Record<string, unknown>, record: JobRecorder, phase: (name: string) => void, systemDirs?: Record<string, string>): Promise<void> {
    const env: Record<string, string> = { PATH: DEFAULT_PATH }
    for (const { name, value } of job.env) env[name] = value
    // host-specific ones were left at home; these describe the sandbox
    Object.assign(env, { HOME: '/tmp', TMPDIR: '/tmp', PWD: job.cwd })
    const jobDir = place.dir
    const host = this.host
    const spec: LaunchSpec = { workspace: job.workspace, view: view.merged, cwd: job.cwd, argv: job.argv, env, exec, extras, outputs, allowNetwork: this.init.allowNetwork, user: host.userIds(), etc: host.etcPlan, tmpBytes: host.settings.memoryBytes, hide: host.hidden(), systemDirs }
    const sandboxed = host.status.mode === 'bwrap'
    const launch = host.launch(spec, place, sandboxed ? undefined : join(view.merged, relative(job.workspace, job.cwd)))
    // beside the view, not in it: the sandbox sees neither socket
    const [stdin, stdout, stderr] = await Promise.all([socketPair(jobDir, 'stdin.sock'), JobOutput.open(jobDir, 'stdout.sock'), JobOutput.open(jobDir, 'stderr.sock')])
    // the job creates files as it would at home (its umask)
    let child: JobChild
    try {
      child = await this.spawner.spawn(launch.command, launch.args, { cwd: launch.cwd ?? jobDir, env: launch.env, umask: job.umask, stdio: [stdin.theirs, stdout.childEnd, stderr.childEnd] })
    } catch (err) {
      for (const socket of [stdin.ours, stdin.theirs]) socket.destroy()
      for (const output of [stdout, stderr]) { output.releaseChildEnd(); output.destroy() }
      throw err
    }
    stdin.theirs.destroy()
    stdout.releaseChildEnd()
    stderr.releaseChildEnd()
    // below the node itself: a machine full of jobs for others must still answer its peers
    // (spawn returns once the sandbox has exec'd, before it forks the job)
    if (child.pid != null) try { setPriority(child.pid, JOB_NICENESS) } catch (err) { log('%s: %s', 'lowering the job\'s priority', errorMessage(err)) }
    const entry = this.running.get(id)
    if (entry != null) entry.child = child
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => { resolve({ code, signal }) })
      child.once('error', () => { resolve({ code: 127, signal: null }) })
    })
    stdin.ours.on('error', () => {})
    // the origin vanishing (reset, lost connection) kills the job at once
    let finished = false
    const onGone = (): void => { if (!finished) killGroup(child, 'SIGKILL') }
    const offGone = channel.onClose(onGone)
    let timedOut = false
    const wall = setTimeout(() => { timedOut = true; killGroup(child, 'SIGKILL') }, this.init.wallMs)
    // a limit that stops the job: a fork loop against the process limit, the disk below its floor
    // (the memory limit stops a job itself: the kernel's OOM killer, read after the exit)
    let stoppedBy: string | undefined
    const stopFor = (why: string): void => {
      if (stoppedBy != null) return
      stoppedBy = why
      killGroup(child, 'SIGKILL')
      void place.cgroup?.remove().catch((err) => { log('job cgroup: %s', errorMessage(err)) })
    }
    const watch = setInterval(() => {
      const floor = host.belowFloor()
      if (floor != null) { stopFor(floor); return }
      void host.verdict(place).then((v) => { if (v?.limit === 'pids') stopFor(v.message) }, (err) => { log('verdict: %s', errorMessage(err)) })
    }, JOB_WATCH_MS)
    child.once('exit', () => { clearInterval(watch) })

    await channel.write({ type: Frame.Type.STARTED, jobId: id })
    phase('started')
    record.start({ path: 'stream' })
    // alive, even when the job itself says nothing for a long time
    const heartbeat = setInterval(() => { void channel.write({ type: Frame.Type.HEARTBEAT }).catch(logged(log, 'a heartbeat to a job stream that ended')) }, this.init.heartbeatMs ?? HEARTBEAT_MS)
    this.components.events.emit({ type: 'info', message: `running ${job.argv[0]} for ${shortId(String(line.origin))} (job ${id})` })
    const started = Date.now()
    const reading = this.readControl(channel, child, stdin.ours, { 1: stdout, 2: stderr }, record)
    const pumps = Promise.all([
      stdout.pump(async (data) => { record.job.bytesSent.stdio += data.byteLength; await channel.writeData(Frame.Type.STDOUT, [data], { borrowed: true }) }),
      stderr.pump(async (data) => { record.job.bytesSent.stdio += data.byteLength; await channel.writeData(Frame.Type.STDERR, [data], { borrowed: true }) })
    ])
    const { code, signal } = await exited
    phase('exited')
    clearInterval(watch)
    if (stoppedBy == null) {
      // what the kernel stopped (OOM), or a disk that filled between two looks
      const verdict = await host.verdict(place).catch(() => undefined)
      const floor = host.belowFloor()
      // a job that failed after the kernel refused it memory or a fork (a fork loop's shell gives up by itself)
      if (verdict != null && (verdict.limit === 'memory' || code !== 0 || signal != null)) stoppedBy = verdict.message
      else if (floor != null && (code !== 0 || signal != null)) stoppedBy = floor
    }
    // whatever the job left running in the background (holding its pipes) goes too
    if (child.pid != null) try { process.kill(-child.pid, 'SIGKILL') } catch (err) { log('%s: %s', 'killing the job\'s process group', errorMessage(err)) }
    // neighbours hear that this node has room again now (a triggered update, as soon as the gap
    // between them allows), usually before the origin hears the exit and asks for its next job
    this.jobDone(id)
    stdin.ours.destroy()
    await pumps
    clearTimeout(wall)
    finished = true
    offGone()
    try {
      if (timedOut) stoppedBy = `wall-time limit ${Math.round(this.init.wallMs / 1000)} s of this node`
      if (stoppedBy != null) await channel.write({ type: Frame.Type.STDERR, data: Buffer.from(`kappa: killed: ${stoppedBy}\n`) })
      const changes = await computeChanges(view, this.store, hex(job.rootDigest), job.rootMode)
      const sent = await this.sendChanges(channel, changes.changes, changes.files, changes.bytes)
      const outputsSent = await this.sendOutputs(channel, job, outputs, outputsBefore)
      phase('changes')
      record.job.bytesSent.workspace = sent
      Object.assign(line, {
        exit: code,
        signal,
        durationMs: Date.now() - started,
        changes: changes.files,
        changeBytes: changes.bytes,
        outputs: changes.changes.filter(c => c.kind === 'file').length + outputsSent,
        view: view.kind,
        sandbox: host.status.mode,
        user: host.user?.name,
        timedOut,
        killed: stoppedBy,
        transport: channel.transport
      })
      record.end({ exitCode: code, signal, path: channel.transport.send === 'bulk' || channel.transport.receive === 'bulk' ? 'bulk' : 'stream' })
      // in the log before the origin hears the end: whoever reads it after `run` returns finds the job
      await this.writeLog(line)
      await channel.write({ type: Frame.Type.EXIT, code: code ?? 0, signal: signal ?? '' })
    } finally {
      clearInterval(heartbeat)
    }
    await channel.close(AbortSignal.timeout(5000)).catch(logged(log, 'closing the job stream'))
    void reading
  }

  /** The change set: the manifest first (validated whole by the origin), then each new content once. */
  private async sendChanges (channel: FrameChannel, changes: WorkspaceChange[], files: number, bytes: number): Promise<number> {
    if (bytes > MAX_OUTPUT_BYTES) throw new Error(`the job's changes hold over ${MAX_OUTPUT_BYTES / 2 ** 30} GiB`)
    for (let i = 0; i < changes.length || i === 0; i += CHANGES_PER_FRAME) {
      const slice = changes.slice(i, i + CHANGES_PER_FRAME)
      const last = i + CHANGES_PER_FRAME >= changes.length
      await channel.write({
        type: Frame.Type.CHANGES,
        changes: {
          changes: slice.map(c => ({
            kind: CHANGE_KINDS[c.kind],
            path: c.path,
            digest: c.kind === 'file' ? unhex(c.digest) : new Uint8Array(0),
            size: BigInt(c.kind === 'file' ? c.size : 0),
            mode: c.kind === 'file' || c.kind === 'directory' || c.kind === 'mode' ? c.mode : 0,
            target: c.kind === 'symlink' ? c.target : ''
          })),
          last,
          files: last ? BigInt(files) : 0n,
          bytes: last ? BigInt(bytes) : 0n
        }
      })
    }
    let sent = 0
    const done = new Set<Hex>()
    for (const c of changes) {
      if (c.kind !== 'file' || done.has(c.digest)) continue
      done.add(c.digest)
      sent += await this.sendBlob(channel, Frame.Type.BLOB, c.source, c.digest, c.size)
      // the next job of this workspace (a link step after the compiles) finds it here
      await this.store.putFile(c.source, c.digest, c.size).catch((err) => { log('store %s: %s', c.path, err.message) })
    }
    this.counters.workspaceBytesSent += sent
    return sent
  }

  /** One blob from a file, hashed as it is read: what is sent is what the digest says, or the job fails. */
  private async sendBlob (channel: FrameChannel, type: Frame.Type, path: string, digest: Hex, size: number, name?: string): Promise<number> {
    await sendVerified(path, size, digest, MIGRATE_CHUNK_BYTES, async (data, first) => {
      if (first) await channel.write({ type, blob: { digest: unhex(digest), size: BigInt(size) }, path: name ?? '', data })
      else await channel.writeData(Frame.Type.DATA, [data], { borrowed: true })
    })
    return size
  }

  /** --output files outside the workspace the job wrote. */
  private async sendOutputs (channel: FrameChannel, job: Job, outputs: LaunchSpec['outputs'], before: number[]): Promise<number> {
    let n = 0
    for (const [i, o] of outputs.entries()) {
      const st = await stat(o.source)
      if (st.mtimeMs === before[i] && st.size === 0) continue
      const { digest, size } = await hashFile(o.source)
      await this.sendBlob(channel, Frame.Type.OUTPUT, o.source, digest, size, job.outputs[i])
      n++
    }
    return n
  }

  /** stdin, stdin EOF and signals from the origin while the job runs. */
  private async readControl (channel: FrameChannel, child: JobChild, stdin: Socket, outputs: Record<1 | 2, JobOutput>, record: JobRecorder): Promise<void> {
    try {
      for (;;) {
        const frame = await channel.read()
        if (frame.type === Frame.Type.STDIN) {
          record.job.bytesReceived.stdio += frame.data.byteLength
          if (stdin.writable && !stdin.write(frame.data)) {
            await new Promise<void>(resolve => { stdin.once('drain', resolve); child.once('exit', () => { resolve() }) })
          }
        } else if (frame.type === Frame.Type.STDIN_EOF) {
          stdin.end()
        } else if (frame.type === Frame.Type.SIGNAL) {
          if (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'].includes(frame.signal)) killGroup(child, frame.signal as NodeJS.Signals)
        } else if (frame.type === Frame.Type.CLOSE_OUTPUT) {
          // the reader on the origin went away: as with a pipe there, the job gets SIGPIPE, and nothing
          // more is read (closing a socket with unread data would give the writer ECONNRESET, not EPIPE)
          if (frame.code === 1 || frame.code === 2) {
            killGroup(child, 'SIGPIPE')
            outputs[frame.code].destroy()
          }
        }
      }
    } catch (err) {
      // the origin closed its side (done) or vanished (the close listener kills the job)
      log('job control stream ended: %s', errorMessage(err))
    }
  }
}

export function killGroup (child: JobChild | undefined, signal: NodeJS.Signals): void {
  if (child?.pid == null || child.exitCode != null || child.signalCode != null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch (err) { log('%s: %s', 'signalling the job', errorMessage(err)) }
  }
}

/** How many overlays are mounted ahead per mirror (the jobs of a make -j wave arrive together). */
const VIEWS_AHEAD = 2

/**
 * Job views mounted ahead: after a job takes one, another is mounted in the
 * background for the next job of that mirror, off its critical path. An
 * overlay nobody has looked into shows its lower layer as it is when the
 * job first looks, so the mirror's update before the job is seen whole.
 */
class ViewPool {
  private readonly ready = new Map<Mirror, Array<{ jobDir: string, view: JobView }>>()
  private readonly mounting = new Map<Mirror, number>()
  private closed = false

  constructor (private readonly mount: (mirror: Mirror) => Promise<{ jobDir: string, view: JobView }>) {}

  async take (mirror: Mirror): Promise<{ jobDir: string, view: JobView } | undefined> {
    const v = this.ready.get(mirror)?.shift()
    if (v == null) return undefined
    // a mirror rebuilt from scratch is a new directory: that overlay shows the old one
    if (v.view.kind === 'overlay' && statSync(mirror.tree, { throwIfNoEntry: false })?.ino !== v.view.lowerIno) {
      await release(v)
      return undefined
    }
    return v
  }

  refill (mirror: Mirror): void {
    const have = (this.ready.get(mirror)?.length ?? 0) + (this.mounting.get(mirror) ?? 0)
    for (let i = have; i < VIEWS_AHEAD && !this.closed; i++) {
      this.mounting.set(mirror, (this.mounting.get(mirror) ?? 0) + 1)
      void this.mount(mirror).then(async (v) => {
        if (this.closed) { await release(v); return }
        this.ready.set(mirror, [...(this.ready.get(mirror) ?? []), v])
      }, (err) => { log('mounting a view ahead: %s', errorMessage(err)) }).finally(() => {
        this.mounting.set(mirror, (this.mounting.get(mirror) ?? 1) - 1)
      })
    }
  }

  /** The mirror goes: so do its views. */
  async drop (mirror: Mirror): Promise<void> {
    const views = this.ready.get(mirror) ?? []
    this.ready.delete(mirror)
    for (const v of views) await release(v)
  }

  async close (): Promise<void> {
    this.closed = true
    for (const mirror of [...this.ready.keys()]) await this.drop(mirror)
  }
}

async function release (v: { jobDir: string, view: JobView }): Promise<void> {
  await releaseView(v.view).catch((err) => { log('release view: %s', errorMessage(err)) })
  await rm(v.jobDir, { recursive: true, force: true }).catch(logged(log, 'removing a view\'s directory'))
}
