import { stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join, resolve, isAbsolute, relative } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { logger } from '@libp2p/logger'
import { Frame, Change, type Job } from '../wire/migrate.js'
import { FrameChannel, framePieces, treeFrames, type BulkUpgrade } from './channel.js'
import type { ProbeCarrier } from '../overlay/index.js'
import { collectExtras, IncomingFile, type ExtraFile } from './files.js'
import { inspectExecutable, symlinkChain, type ExecutableInfo } from './exe.js'
import { underSystemDir } from './sandbox.js'
import { ClientLink } from './client-link.js'
import { JobRecorder } from './record.js'
import { Liveness } from './liveness.js'
import { findExecutable } from '../host/requirements.js'
import type { ToolchainCache, ToolchainManifest } from '../host/toolchain-cache.js'
import { RunFrame } from '../control/frames.js'
import { UserError, asError, errorMessage, networkError } from '../errors.js'
import { label } from '../names.js'
import { peerIdOf } from '../pairing/invites.js'
import { connectBulk, tcpHost } from '../bulk/index.js'
import {
  findWorkspaceRoot, isInside, jobEnvironment, sendVerified, sendHeld, ChangedWhileSent, ChangeApplier, ChangeRefused, decodeDirectory, hex, unhex, LruMap,
  CREDENTIAL_DIRS, IGNORE_FILE, MAX_REMEMBERED_DIRECTORIES, PROGRESS_EVERY_MS, PROGRESS_MIN_BYTES,
  type BlobSink, type Hex, type IncomingChange, type Snapshot, type WorkspaceScanner
} from '../workspace/index.js'
import { BULK_HELLO_TIMEOUT_MS, MAX_EXE_BYTES, MIGRATE_CHUNK_BYTES, PROTOCOL_MIGRATE, TICKET_TTL_MS, transferDeadlineMs } from '../constants.js'
import type { MigrationComponents, MigrationCounters, JobView, RunParams, ResolvedMigrationInit } from './index.js'
import type { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { logged } from '../debug.js'
import { serializer } from '../serialize.js'

const log = logger('kappa:migrate:origin')

/** Thrown before the job started: the client runs it locally (unless --remote). */
class BeforeStart extends Error {}

/** What a job needs before it can be placed: its workspace, executable, files, environment. */
interface Prepared {
  snapshot: Snapshot
  exe: ExecutableInfo
  exeInWorkspace: boolean
  /** symlinks from the executable's path to its file that the target must make (outside system directories and the workspace) */
  exeLinks: Array<{ path: string, target: string }>
  extras: ExtraFile[]
  /** --output paths outside the workspace, absolute */
  outputs: string[]
  env: Record<string, string>
  /** what the executable needs to behave the same (undefined: not known safely; the job goes without) */
  toolchain?: ToolchainManifest
}

const CHANGE_KINDS: Record<string, IncomingChange['kind'] | undefined> = {
  [Change.Kind.FILE]: 'file', [Change.Kind.SYMLINK]: 'symlink', [Change.Kind.DIRECTORY]: 'directory', [Change.Kind.DELETE]: 'delete', [Change.Kind.MODE]: 'mode'
}

/** The job's stream to the neighbour its probe went to, and that neighbour's answer (an encoded ProbeResponse). */
interface Carried {
  to: string
  channel: FrameChannel
  answer: Uint8Array
  /** writes what follows the request (once the job is admitted, unless it went at once); its workspace bytes */
  follow: () => Promise<number>
}

/**
 * The origin side of a migration: choose the target (probe, --peer), send the
 * job and whatever of its workspace the target lacks, relay stdio and signals
 * between the thin client and the target, apply the job's change set in the
 * workspace before the client hears the exit.
 */
export class JobSender {
  readonly running = new Map<string, JobView>()
  private seq = 0
  /** per target: the directory digests it confirmed holding (pushed only when new) */
  private readonly sent = new LruMap<string, LruMap<Hex, true>>(256)
  /**
   * Placement decisions are taken one at a time: each probe then sees the
   * jobs the previous ones placed (pending work here and at the targets),
   * and a burst (make -j30) is spread like list scheduling instead of all
   * reading the same values at once. A probe takes milliseconds on a LAN.
   */
  private readonly placing = serializer(log)

  private async oneAtATime<T> (fn: () => Promise<T>): Promise<T> {
    return await this.placing(fn)
  }

  /** `toolchains`: identities by driver, revalidated per job by stat */
  constructor (private readonly components: MigrationComponents, private readonly init: ResolvedMigrationInit, private readonly counters: MigrationCounters, private readonly scanner: WorkspaceScanner, private readonly toolchains: ToolchainCache) {}

  async serve (params: RunParams, socket: Socket, rest: Buffer): Promise<void> {
    const client = new ClientLink(socket, rest)
    const remoteOnly = params.mode === 'remote'
    const id = `out-${++this.seq}`
    try {
      await this.migrate(params, client, id)
    } catch (err) {
      if (err instanceof BeforeStart) {
        if (remoteOnly) {
          await client.json(RunFrame.ERROR, { message: err.message, code: 1 })
        } else {
          this.components.onLocalPlacement?.()
          this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'local', reason: err.message })
          await this.runHere(params, client, id, err.message, false, true)
        }
      } else {
        await client.json(RunFrame.ERROR, { message: errorMessage(err), code: 255 })
      }
    } finally {
      this.running.delete(id)
      client.end()
    }
  }

  /**
   * The client runs the job itself: `job-started` now, `job-ended` when it
   * reports how it went (LOCAL_EXIT), or when it goes away without saying.
   */
  private async runHere (params: RunParams, client: ClientLink, id: string, reason: string, quiet: boolean, fellBack: boolean): Promise<void> {
    const self = this.components.libp2p.peerId.toString()
    const record = new JobRecorder(this.components.events, { id: `local-${id}`, direction: 'local', origin: self, target: self, argv: params.argv, cwd: params.cwd, reason })
    record.start()
    const ended = new Promise<void>((resolve) => {
      client.onFrame = (type, payload) => {
        if (type !== RunFrame.LOCAL_EXIT) return
        try {
          const r = JSON.parse(payload.toString('utf8'))
          record.end({
            exitCode: typeof r.code === 'number' ? r.code : null,
            signal: typeof r.signal === 'string' ? r.signal : null,
            outcome: fellBack ? 'fell-back' : undefined
          })
        } catch (err) {
          log('malformed LOCAL_EXIT: %s', errorMessage(err))
        }
        resolve()
      }
      client.onClose(resolve)
    })
    await client.json(RunFrame.LOCAL, { reason, quiet })
    await ended
    record.end({ outcome: fellBack ? 'fell-back' : 'lost' })
  }

  /**
   * The executable's toolchain manifest (docs/toolchain.md), from the
   * per-driver cache; undefined when it cannot be known safely (the job
   * then goes as before: its executable only).
   */
  private async toolchainOf (exePath: string, argv0: string): Promise<ToolchainManifest | undefined> {
    try {
      return await this.toolchains.manifest(exePath, argv0)
    } catch (err) {
      log('no toolchain identity for %s: %s', exePath, errorMessage(err))
      return undefined
    }
  }

  /** Workspace, executable, files outside the workspace, environment: everything but the place. */
  private async prepare (params: RunParams, exePath: string): Promise<Prepared> {
    const root = await findWorkspaceRoot(params.cwd, params.home, params.workspace)
    // this node's own home (its keys) and the user's credentials never travel
    const exclude = [this.components.home, ...(params.home != null && isAbsolute(params.home) ? CREDENTIAL_DIRS.map(d => join(params.home as string, d)) : [])]
    const snapshot = await this.scanner.snapshot(root, exclude)
    const cwdRel = relative(root, params.cwd)
    if (snapshot.lookup(cwdRel.split(/\/+/).join('/'))?.kind !== 'dir') throw new UserError(`the current directory ${params.cwd} is excluded from the workspace ${root} (${IGNORE_FILE})`)
    const exe = await inspectExecutable(exePath)
    if (exe.size > MAX_EXE_BYTES) throw new UserError(`${exePath} is over the ${MAX_EXE_BYTES / 2 ** 20} MiB executable limit`)
    const exeRel = relative(root, exePath)
    const exeInWorkspace = isInside(root, exePath) && snapshot.lookup(exeRel) != null
    // the sandbox would have to create it inside the job's view of the workspace
    if (isInside(root, exePath) && !exeInWorkspace) throw new UserError(`${exePath} is excluded from the workspace ${root} (${IGNORE_FILE})`)
    const extras = await collectExtras(params.cwd, root, params.argv.slice(1), params.inputs)
    // an executable outside the workspace travels on its own (the target may have it already)
    const outputs: string[] = []
    for (const o of params.outputs) {
      const abs = resolve(params.cwd, o)
      // inside the workspace, the change set brings it back anyway
      if (!isInside(root, abs)) outputs.push(abs)
    }
    const exeLinks = exeInWorkspace ? [] : await symlinkChain(exePath, p => underSystemDir(p) || isInside(root, p))
    return { snapshot, exe, exeInWorkspace, exeLinks, extras, outputs, env: jobEnvironment(params.env, params.envAdd, params.envDrop) }
  }

  private async migrate (params: RunParams, client: ClientLink, id: string): Promise<void> {
    const { overlay, trust, access } = this.components
    const began = performance.now()
    const phases: Record<string, number> = {}
    const phase = (name: string): void => { phases[name] = Math.round((performance.now() - began) * 10) / 10 }
    if (params.mode === 'local') {
      this.components.onLocalPlacement?.()
      await this.runHere(params, client, id, 'asked to run here (--local)', true, false)
      return
    }
    const exePath = params.argv[0].includes('/') ? resolve(params.cwd, params.argv[0]) : findExecutable(params.argv[0], params.path)
    if (exePath == null) {
      // let the local shell say "command not found" the usual way
      await this.runHere(params, client, id, `${params.argv[0]}: command not found`, true, false)
      return
    }
    // the workspace is described while the overlay is asked (warm, this costs milliseconds)
    const preparing = this.prepare(params, exePath)
    preparing.catch(logged(log, 'preparing the job (awaited later)'))
    // the toolchain identity is made ready while the job is placed (warm, milliseconds; the first of a
    // daemon, longer): the probe carries its digest when it is at hand, the job always
    const toolchain = this.toolchainOf(exePath, params.argv[0])
    let requirements: { arch?: string, interpreter?: string, toolchain?: string }
    try {
      const exe = await inspectExecutable(exePath)
      requirements = { arch: exe.arch, interpreter: exe.interpreter, toolchain: this.toolchains.known(exePath, params.argv[0])?.digest }
    } catch (err) {
      throw new BeforeStart(errorMessage(err))
    }

    // the job, described, with its set-up deadline: before the job starts, any failure means "run it here
    // instead"; the target may first finish an earlier job's sync of this workspace (one at a time per
    // origin), so the deadline grows with the workspace as the target's does
    let readying: Promise<{ job: Prepared, setup: AbortSignal }> | undefined
    const ready = async (): Promise<{ job: Prepared, setup: AbortSignal }> => await (readying ??= (async () => {
      try {
        const described = await preparing
        phase('described')
        const job = { ...described, toolchain: await toolchain }
        phase('toolchain')
        return { job, setup: AbortSignal.timeout(transferDeadlineMs(job.snapshot.bytes, job.snapshot.files)) }
      } catch (err) {
        throw new BeforeStart(errorMessage(err))
      }
    })())
    // where: a named peer, or Algorithm II
    let target: string
    let addrs: string[] = []
    let ticket: Uint8Array = new Uint8Array(0)
    let ticketTtlMs = 0
    let targetSysmetric: number | undefined
    let path: string[] = []
    // the job's stream to the neighbour its probe went to, the probe in its request (protocols/migrate.proto)
    let carried: Carried | undefined
    if (params.mode === 'peer') {
      const peer = trust.find(params.peer ?? '')
      if (peer == null) throw new BeforeStart(`--peer ${params.peer ?? ''}: not a paired peer`)
      target = peer.id
      addrs = peer.addrs
    } else {
      const carrier: ProbeCarrier = {
        ready: async () => { await ready() },
        send: async (to, request, signal) => {
          const { job, setup } = await ready()
          carried = await this.carry(to, request, params, job, setup, signal)
          return carried.answer
        }
      }
      const outcome = await this.oneAtATime(async () => {
        phase('turn')
        const o = await overlay.probe(requirements, params.mode === 'remote', carrier)
        if (o.local && params.mode !== 'remote') this.components.onLocalPlacement?.()
        return o
      })
      phase('probe')
      const hop = carried as Carried | undefined
      // a reply that names the neighbour the probe rode to admitted the job on that stream
      if (hop != null && (outcome.local || outcome.target.id !== hop.to)) {
        // the neighbour declined, answered for a node further on, or this node took the job back
        // (its own value beat the reply meanwhile): nothing runs there
        hop.channel.abort(new Error('the job goes elsewhere'))
        carried = undefined
      }
      if (outcome.local) {
        if (params.mode === 'remote') throw new BeforeStart(`no node to run it on (${outcome.reason})`)
        this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'local', reason: outcome.reason, own: outcome.own, best: outcome.best, sysmetric: outcome.target?.sysmetric, target: outcome.target?.id })
        await this.runHere(params, client, id, outcome.reason, true, false)
        return
      }
      target = outcome.target.id
      addrs = outcome.target.addrs
      targetSysmetric = outcome.target.sysmetric
      path = outcome.path
      ticket = outcome.ticket
      ticketTtlMs = outcome.ticketTtlMs
    }
    const { job, setup: signal } = await ready()
    phase('prepared')
    const who = label(target, trust.get(target)?.alias)
    this.running.set(id, { id, peer: target, argv0: params.argv[0], startedAt: Date.now() })
    const record = new JobRecorder(this.components.events, { id, direction: 'out', origin: this.components.libp2p.peerId.toString(), target, argv: params.argv, cwd: params.cwd, phases })
    let channel: FrameChannel
    const hop = carried as Carried | undefined
    if (hop != null) {
      channel = hop.channel
    } else {
      try {
        channel = new FrameChannel(await this.openStream(target, addrs, ticketTtlMs, signal), this.bulkUpgrade(target))
      } catch (err) {
        throw new BeforeStart(networkError(`could not reach ${who}`, err).message)
      }
    }
    let started = false
    try {
      if (hop == null) await (await this.sendRequest(channel, params, job, ticket, target, signal))(record.job.bytesSent)
      else record.job.bytesSent.workspace += await hop.follow()
      const first = await this.awaitStart(channel, job, target, who, client, record, signal)
      if (first.type === Frame.Type.REFUSE) throw new BeforeStart(`${who} refused: ${first.message}`)
      if (first.type === Frame.Type.ERROR) throw new BeforeStart(`${who}: ${first.message}`)
      if (first.type !== Frame.Type.STARTED) throw new BeforeStart(`${who} did not start the job`)
      phase('started')
      started = true
      this.counters.jobsOut++
      record.start()
      this.components.events.emit({ type: 'job-placed', argv0: params.argv[0], where: 'remote', target, alias: trust.get(target)?.alias, path, sysmetric: targetSysmetric })
      await client.json(RunFrame.STARTED, { target, alias: trust.get(target)?.alias ?? null, jobId: first.jobId })
      const exit = await this.relay(channel, client, params, job, who, record)
      phase('exit')
      record.end({ exitCode: exit.code, signal: exit.signal, path: channel.transport.send === 'bulk' || channel.transport.receive === 'bulk' ? 'bulk' : 'stream' })
    } catch (err) {
      channel.abort(asError(err))
      if (started) {
        record.end({ outcome: 'lost', reason: errorMessage(err) })
        throw err
      }
      // before the start: the job runs here instead, and its `local` record (fell-back) tells it;
      // with --remote nothing runs, and this record says why
      if (params.mode === 'remote') record.end({ outcome: 'refused', reason: errorMessage(err) })
      if (err instanceof BeforeStart) throw err
      throw new BeforeStart(`${who}: ${errorMessage(err)}`)
    } finally {
      if (!trust.has(target)) access.unexpect(target)
    }
  }

  /**
   * The job's stream to neighbour `to` with the probe's first hop in its
   * request. Returns once the neighbour answered the probe; what follows the
   * request goes at once to a neighbour that has run this node's jobs before
   * (it is likely to take this one too), else once it admitted the job, so a
   * node that only relays is not sent a workspace with every probe.
   */
  private async carry (to: string, probe: Uint8Array, params: RunParams, prepared: Prepared, setup: AbortSignal, signal: AbortSignal): Promise<Carried> {
    const stream = await this.openStream(to, [], 0, signal)
    const channel = new FrameChannel(stream, this.bulkUpgrade(to))
    try {
      const rest = await this.sendRequest(channel, params, prepared, new Uint8Array(0), to, setup, probe)
      const bytesSent = { workspace: 0 }
      const send = async (): Promise<number> => { await rest(bytesSent); return bytesSent.workspace }
      const early = this.knownBy(to).size > 0 ? send() : undefined
      // awaited with the job; a stream the job does not use is aborted, which fails these writes
      early?.catch(logged(log, 'sending the job\'s directories with its probe'))
      const first = await channel.read(signal)
      if (first.type === Frame.Type.REFUSE || first.type === Frame.Type.ERROR) throw new Error(first.message)
      if (first.type !== Frame.Type.PROBE) throw new Error('no answer to the probe sent with the job')
      return { to, channel, answer: first.probeAnswer, follow: async () => await (early ?? send()) }
    } catch (err) {
      channel.abort(asError(err))
      throw err
    }
  }

  /** The target's bulk port is on the address our connection reached it at. */
  private bulkUpgrade (target: string): BulkUpgrade {
    const host = this.components.libp2p.getConnections(peerIdFromString(target)).map(c => tcpHost(c.remoteAddr)).find(h => h != null)
    return host != null && this.components.bulk != null
      ? { connect: async (offer) => await connectBulk(host, offer, AbortSignal.timeout(BULK_HELLO_TIMEOUT_MS)) }
      : {}
  }

  /**
   * The request (with the probe's first hop, when it carries one); returns
   * the sender of what follows it: the toolchain manifest and the
   * directories the target has not seen.
   */
  private async sendRequest (channel: FrameChannel, params: RunParams, prepared: Prepared, ticket: Uint8Array, target: string, signal: AbortSignal, probe?: Uint8Array): Promise<(bytesSent: { workspace: number }) => Promise<void>> {
    const { snapshot, exe, extras } = prepared
    const known = this.knownBy(target)
    const frames = treeFrames(newDirectories(snapshot, snapshot.digest, known))
    const manifest = prepared.toolchain
    // the manifest (~1 MB for gcc) goes along until this target confirmed holding it, in a TREE frame
    // of its own after the request: the request stays small, so a probe in it is answered at once
    const sendManifest = manifest != null && !known.has(manifest.digest)
    const job: Job = {
      ticket: ticket as Uint8Array<ArrayBuffer>,
      argv: params.argv,
      cwd: params.cwd,
      env: Object.entries(prepared.env).map(([name, value]) => ({ name, value })),
      workspace: snapshot.root,
      rootDigest: unhex(snapshot.digest) as Uint8Array<ArrayBuffer>,
      rootMode: snapshot.rootMode,
      treeFrames: frames.length + (sendManifest ? 1 : 0),
      treeFiles: BigInt(snapshot.files),
      treeBytes: BigInt(snapshot.bytes),
      exe: {
        path: exe.path,
        digest: exe.sha256 as Uint8Array<ArrayBuffer>,
        size: BigInt(exe.size),
        mode: exe.mode,
        inWorkspace: prepared.exeInWorkspace,
        links: prepared.exeLinks,
        arch: exe.arch ?? '',
        interpreter: exe.interpreter ?? ''
      },
      extras: extras.map(f => ({ path: f.path, digest: f.digest as Uint8Array<ArrayBuffer>, size: BigInt(f.size), mode: f.mode })),
      outputs: prepared.outputs,
      stdin: params.stdin,
      umask: params.umask,
      toolchain: manifest != null ? unhex(manifest.digest) : new Uint8Array(0)
    }
    await channel.write({ type: Frame.Type.REQUEST, job, probe: (probe ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer> }, signal)
    return async (bytesSent) => {
      if (sendManifest) await channel.write({ type: Frame.Type.TREE, toolchain: manifest.bytes as Uint8Array<ArrayBuffer> }, signal)
      for (const f of frames) await this.sendTree(channel, f, bytesSent, signal)
    }
  }

  private knownBy (target: string): LruMap<Hex, true> {
    let known = this.sent.get(target)
    if (known == null) {
      known = new LruMap<Hex, true>(MAX_REMEMBERED_DIRECTORIES)
      this.sent.set(target, known)
    }
    return known
  }

  /** After the request: the directories and blobs the target lacks; returns its first answer after them (STARTED, REFUSE…). */
  private async awaitStart (channel: FrameChannel, prepared: Prepared, target: string, who: string, client: ClientLink, record: JobRecorder, signal: AbortSignal): Promise<Frame> {
    const { snapshot } = prepared
    const known = this.knownBy(target)
    const manifest = prepared.toolchain
    let answer = await channel.read(signal)
    for (let round = 0; answer.type === Frame.Type.ACCEPT && answer.missingDirectories.length > 0; round++) {
      // the target lost some (evicted, or never had them): whole subtrees, then an empty TREE
      if (round > 3) throw new Error(`${who} keeps asking for directories`)
      const wanted: Uint8Array[] = []
      let sendManifest = false
      for (const d of answer.missingDirectories) {
        known.delete(hex(d))
        if (manifest != null && hex(d) === manifest.digest) sendManifest = true
        else wanted.push(...newDirectories(snapshot, hex(d), new LruMap(0)))
      }
      if (sendManifest && manifest != null) await channel.write({ type: Frame.Type.TREE, toolchain: manifest.bytes as Uint8Array<ArrayBuffer> }, signal)
      for (const f of treeFrames(wanted)) await this.sendTree(channel, f, record.job.bytesSent, signal)
      await channel.write({ type: Frame.Type.TREE }, signal)
      answer = await channel.read(signal)
    }
    if (answer.type !== Frame.Type.ACCEPT) return answer
    // the target holds every directory of this tree now, and the toolchain manifest
    for (const d of snapshot.directories.keys()) known.set(d, true)
    if (manifest != null) known.set(manifest.digest, true)
    // a big first sync gets the time it needs (the target allows the same)
    const transfer = AbortSignal.timeout(transferDeadlineMs(this.missingBytes(answer.missingBlobs.map(hex), prepared), answer.missingBlobs.length))
    await this.sendBlobs(channel, answer.missingBlobs.map(hex), prepared, client, record, transfer)
    return await channel.read(transfer)
  }

  private missingBytes (digests: Hex[], prepared: Prepared): number {
    let n = 0
    for (const d of digests) n += prepared.snapshot.blob(d)?.size ?? (d === hex(prepared.exe.sha256) ? prepared.exe.size : prepared.extras.find(e => hex(e.digest) === d)?.size ?? toolchainFile(prepared, d)?.size ?? 0)
    return n
  }

  private async sendTree (channel: FrameChannel, directories: Uint8Array[], bytesSent: { workspace: number }, signal: AbortSignal): Promise<void> {
    await channel.write({ type: Frame.Type.TREE, directories: directories as Array<Uint8Array<ArrayBuffer>> }, signal)
    for (const d of directories) {
      bytesSent.workspace += d.byteLength
      this.counters.workspaceBytesSent += d.byteLength
    }
  }

  /** Each blob the target asked for, from the file that has it, hashed as it is read: never sent with a wrong digest. */
  private async sendBlobs (channel: FrameChannel, digests: Hex[], prepared: Prepared, client: ClientLink, record: JobRecorder, signal: AbortSignal): Promise<void> {
    const exeDigest = hex(prepared.exe.sha256)
    const sources = digests.map((d) => {
      if (d === exeDigest) return { digest: d, path: prepared.exe.path, size: prepared.exe.size, kind: 'executable' as const }
      const extra = prepared.extras.find(e => hex(e.digest) === d)
      if (extra != null) return { digest: d, path: extra.path, size: extra.size, kind: 'workspace' as const }
      const blob = prepared.snapshot.blob(d)
      // a toolchain file: the system's own, reached through its symlinks
      const tool = blob == null ? toolchainFile(prepared, d) : undefined
      if (tool != null) return { digest: d, path: tool.path, size: tool.size, kind: 'executable' as const }
      if (blob == null) throw new Error(`the target asked for a blob this job does not have (${d.slice(0, 12)})`)
      // the content as described, when the scanner still holds it: the file may have been renamed or rewritten since
      return { digest: d, path: join(prepared.snapshot.root, blob.path), size: blob.size, kind: 'workspace' as const, held: prepared.snapshot.content(d) }
    })
    const total = sources.reduce((n, s) => n + s.size, 0)
    const progress = total >= PROGRESS_MIN_BYTES
    let sentBytes = 0
    let lastReport = 0
    const report = async (force: boolean): Promise<void> => {
      if (!progress || (!force && Date.now() - lastReport < PROGRESS_EVERY_MS)) return
      lastReport = Date.now()
      await client.json(RunFrame.PROGRESS, { sentBytes, totalBytes: total, blobs: sources.length })
    }
    for (const s of sources) {
      const send = async (data: Buffer, first: boolean): Promise<void> => {
        if (first) await channel.write({ type: Frame.Type.BLOB, blob: { digest: unhex(s.digest), size: BigInt(s.size) }, data }, signal)
        else await channel.writeData(Frame.Type.DATA, [data], { signal, borrowed: true })
        sentBytes += data.byteLength
        await report(false)
      }
      try {
        if ('held' in s && s.held != null) await sendHeld(s.held, MIGRATE_CHUNK_BYTES, send)
        else await sendVerified(s.path, s.size, s.digest, MIGRATE_CHUNK_BYTES, send, { noFollow: s.kind === 'workspace' })
      } catch (err) {
        if (err instanceof ChangedWhileSent) throw new BeforeStart(`${s.path} changed while it was sent; run it again`)
        if ((err as NodeJS.ErrnoException).code != null) throw new BeforeStart(`cannot read ${s.path}: ${errorMessage(err)}`)
        throw err
      }
      const sent = s.size
      if (s.kind === 'executable') {
        record.job.bytesSent.executable += sent
        this.counters.exeBytesSent += sent
      } else {
        record.job.bytesSent.workspace += sent
        this.counters.workspaceBytesSent += sent
      }
    }
    await report(true)
  }

  private async openStream (target: string, addrs: string[], ticketTtlMs: number, signal: AbortSignal): Promise<Stream> {
    const { libp2p, access } = this.components
    const peerId = peerIdFromString(target)
    const existing = libp2p.getConnections(peerId)[0]
    if (existing != null) return await existing.newStream(PROTOCOL_MIGRATE, { signal, negotiateFully: false })
    // a target found through the overlay: let our gater dial it while the ticket lives
    access.expect(target, Math.max(ticketTtlMs, TICKET_TTL_MS))
    const dialAddrs = addrs.map(a => multiaddr(a)).map(a => peerIdOf(a) == null ? a.encapsulate(`/p2p/${target}`) : a)
    return await libp2p.dialProtocol(dialAddrs.length > 0 ? dialAddrs : peerId, PROTOCOL_MIGRATE, { signal, negotiateFully: false })
  }

  /**
   * The job runs: stdio and signals both ways; then its change set, applied
   * in the workspace (validated whole first), and --output files; then the
   * exit status goes to the client.
   */
  private async relay (channel: FrameChannel, client: ClientLink, params: RunParams, prepared: Prepared, who: string, record: JobRecorder): Promise<{ code: number, signal: string | null }> {
    let exited = false
    client.onFrame = async (type, payload) => {
      if (exited) return
      if (type === RunFrame.STDIN) {
        record.job.bytesSent.stdio += payload.byteLength
        await channel.writeData(Frame.Type.STDIN, [payload]).catch(logged(log, 'sending stdin to a job that ended'))
      } else if (type === RunFrame.STDIN_EOF) await channel.write({ type: Frame.Type.STDIN_EOF }).catch(logged(log, 'sending stdin EOF to a job that ended'))
      else if (type === RunFrame.SIGNAL) await channel.write({ type: Frame.Type.SIGNAL, signal: payload.toString('utf8') }).catch(logged(log, 'forwarding a signal to a job that ended'))
      else if (type === RunFrame.OUTPUT_CLOSED) client.broken(payload.toString('utf8') === '2' ? 2 : 1)
    }
    // the job's output goes straight into the client's pipes where it can; a reader that goes away is a broken pipe there
    client.openPipes(params.pipes, (fd) => { void channel.write({ type: Frame.Type.CLOSE_OUTPUT, code: fd }).catch(logged(log, 'telling the target an output pipe closed')) })
    // the client went away (killed): reset the stream, the target kills the job
    client.onClose(() => { if (!exited) channel.abort(new Error('client gone')) })
    let silentFor: number | undefined
    const liveness = new Liveness(this.init.livenessMs, this.init.clock, (ms) => {
      silentFor = ms
      channel.abort(new Error('silent'))
    })
    const snapshot = prepared.snapshot
    const manifest: IncomingChange[] = []
    let applier: ChangeApplier | undefined
    let sink: BlobSink | undefined
    let output: { file: IncomingFile, hash: ReturnType<typeof createHash>, digest: Hex } | undefined
    try {
      for (;;) {
        let frame: Frame
        try {
          frame = await channel.read()
        } catch (err) {
          if (client.closed) return { code: 255, signal: null }
          if (silentFor != null) throw new Error(`no word from ${who} for ${Math.round(silentFor / 1000)} s while the job was running; giving it up`)
          throw new Error(`lost the connection to ${who} while the job was running (${errorMessage(err)})`)
        }
        liveness.heard()
        switch (frame.type) {
          case Frame.Type.STDOUT:
          case Frame.Type.STDERR: {
            const pieces = framePieces(frame)
            for (const p of pieces) record.job.bytesReceived.stdio += p.byteLength
            await client.output(frame.type === Frame.Type.STDOUT ? 1 : 2, pieces)
            break
          }
          case Frame.Type.HEARTBEAT:
            break
          case Frame.Type.CHANGES: {
            if (applier != null || frame.changes == null) throw new ChangeRefused('a second change set')
            for (const c of frame.changes.changes) {
              const kind = CHANGE_KINDS[c.kind]
              if (kind == null) throw new ChangeRefused(`a change of unknown kind (${String(c.kind)})`)
              manifest.push({ kind, path: c.path, digest: kind === 'file' ? hex(c.digest) : undefined, size: Number(c.size), mode: c.mode, target: c.target })
              if (manifest.length > 10 * 1024 * 1024) throw new ChangeRefused('a change set without end')
            }
            if (frame.changes.last) {
              applier = await ChangeApplier.prepare({
                root: snapshot.root,
                lookup: snapshot.lookup,
                ignored: snapshot.ignored,
                umask: params.umask
              }, manifest, { files: Number(frame.changes.files), bytes: Number(frame.changes.bytes) })
            }
            break
          }
          case Frame.Type.BLOB: {
            if (applier == null || sink != null || output != null || frame.blob == null) throw new ChangeRefused('a blob outside a change set')
            sink = applier.blob(hex(frame.blob.digest), Number(frame.blob.size))
            if (frame.data.byteLength > 0) await sink.write(frame.data)
            record.job.bytesReceived.workspace += frame.data.byteLength
            this.counters.workspaceBytesReceived += frame.data.byteLength
            if (sink.complete) { await sink.finish(); sink = undefined }
            break
          }
          case Frame.Type.OUTPUT: {
            if (sink != null || output != null || frame.blob == null) throw new ChangeRefused('an output file in the middle of another')
            if (!prepared.outputs.includes(frame.path)) throw new ChangeRefused(`an output file nobody asked for (${frame.path})`)
            const mode = (await stat(frame.path).catch(() => undefined))?.mode ?? (0o666 & ~params.umask)
            output = { file: await IncomingFile.create(frame.path, Number(frame.blob.size), mode), hash: createHash('sha256'), digest: hex(frame.blob.digest) }
            if (frame.data.byteLength > 0) { output.hash.update(frame.data); await output.file.write(frame.data) }
            if (output.file.complete) await this.finishOutput(output).finally(() => { output = undefined })
            break
          }
          case Frame.Type.DATA: {
            if (sink != null) {
              await sink.write(frame.data)
              record.job.bytesReceived.workspace += frame.data.byteLength
              this.counters.workspaceBytesReceived += frame.data.byteLength
              if (sink.complete) { await sink.finish(); sink = undefined }
            } else if (output != null) {
              output.hash.update(frame.data)
              await output.file.write(frame.data)
              if (output.file.complete) await this.finishOutput(output).finally(() => { output = undefined })
            } else {
              throw new Error(`unexpected data from ${who}`)
            }
            break
          }
          case Frame.Type.EXIT: {
            if (sink != null || output != null) throw new ChangeRefused('the job ended in the middle of a file')
            if (applier == null) throw new ChangeRefused('no change set came')
            const { conflicts, written } = await applier.commit()
            applier = undefined
            for (const w of written) this.scanner.recordWrite(snapshot.root, w.path, w.stat, w.digest, w.data)
            if (conflicts.length > 0) {
              const shown = conflicts.slice(0, 3).join(', ') + (conflicts.length > 3 ? `, and ${conflicts.length - 3} more` : '')
              await client.note(`${conflicts.length === 1 ? shown : `${conflicts.length} paths`} changed here while the job ran on ${who}; the job's version was kept${conflicts.length > 1 ? ` (${shown})` : ''}`)
            }
            exited = true
            await client.closePipes()
            const signal = frame.signal === '' ? null : frame.signal
            await client.json(RunFrame.EXIT, { code: frame.code, signal })
            await channel.close(AbortSignal.timeout(5000)).catch(logged(log, 'closing the job stream'))
            return { code: frame.code, signal }
          }
          case Frame.Type.ERROR:
            throw new Error(`${who}: ${frame.message}`)
          default:
            throw new Error(`unexpected frame ${frame.type} from ${who}`)
        }
      }
    } catch (err) {
      if (err instanceof ChangeRefused) throw new Error(`refused the changes ${who} sent back: ${err.message}; nothing was written`)
      throw err
    } finally {
      liveness.stop()
      await applier?.abort()
      await output?.file.discard()
      await client.closePipes()
    }
  }

  private async finishOutput (output: { file: IncomingFile, hash: ReturnType<typeof createHash>, digest: Hex }): Promise<void> {
    if (output.hash.digest('hex') !== output.digest) {
      await output.file.discard()
      throw new ChangeRefused(`${output.file.target} does not match its digest`)
    }
    await output.file.finish()
  }
}

/** The toolchain file with this content, if the job's toolchain has one. */
function toolchainFile (prepared: Prepared, digest: Hex): { path: string, size: number } | undefined {
  const manifest = prepared.toolchain
  if (manifest == null) return undefined
  let byDigest = toolchainIndex.get(manifest)
  if (byDigest == null) {
    byDigest = new Map(manifest.files.map(f => [f.sha256, f]))
    toolchainIndex.set(manifest, byDigest)
  }
  return byDigest.get(digest)
}
const toolchainIndex = new WeakMap<ToolchainManifest, Map<Hex, { path: string, size: number }>>()

/** The Directory messages under `digest` (itself included) that `known` does not hold; a known directory's subtree is skipped. */
function newDirectories (snapshot: Snapshot, digest: Hex, known: LruMap<Hex, true>): Uint8Array[] {
  const out: Uint8Array[] = []
  const seen = new Set<Hex>()
  const walk = (d: Hex): void => {
    if (known.has(d) || seen.has(d)) return
    seen.add(d)
    const bytes = snapshot.directories.get(d)
    if (bytes == null) return
    out.push(bytes)
    for (const sub of decodeDirectory(bytes).directories) walk(hex(sub.digest))
  }
  walk(digest)
  return out
}

export function absoluteCwd (cwd: unknown): string {
  if (typeof cwd !== 'string' || !isAbsolute(cwd)) throw new UserError('run needs an absolute cwd')
  return cwd
}
