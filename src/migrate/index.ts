import { availableParallelism } from 'node:os'
import { JobRunner } from './target.js'
import { JobSender, absoluteCwd } from './origin.js'
import { JobHost, type SandboxStatus } from './jobhost.js'
import { formatBytes } from '../units.js'
import { UserError } from '../errors.js'
import { parseClientPipes, type ClientPipes } from '../control/direct.js'
import type { JobCounters } from '../control/methods.js'
import { PROTOCOL_MIGRATE, DEFAULT_JOB_WALL_MS, LIVENESS_MS, HEARTBEAT_MS } from '../constants.js'
import { WorkspaceScanner, DEFAULT_STORE_BYTES } from '../workspace/index.js'
import { systemClock, type Clock } from './liveness.js'
import { ToolchainCache } from '../host/toolchain-cache.js'
import type { Access } from '../access/index.js'
import type { TrustStore } from '../trust/index.js'
import type { TicketBook } from '../tickets/index.js'
import type { Overlay } from '../overlay/index.js'
import type { DaemonEvents } from '../events.js'
import type { BulkListener } from '../bulk/index.js'
import type { Libp2p } from '@libp2p/interface'
import type { Socket } from 'node:net'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('migrate')

/**
 * Transparent process migration (paper §IV.D, SPEC §6) over
 * `/kappa/migrate/1`: the origin side serves `kappa-node run` clients on the
 * control socket; the target side runs jobs for paired peers and ticket
 * holders in a sandboxed job directory.
 */
export interface MigrationComponents {
  libp2p: Libp2p
  trust: TrustStore
  access: Access
  tickets: TicketBook
  overlay: Overlay
  events: DaemonEvents
  home: string
  /** this node's bulk port (src/bulk); without it every job stays on its stream */
  bulk?: BulkListener
  /** the client was told to run a job here (pending-work accounting) */
  onLocalPlacement?: () => void
  /** a job run here for another node ended; `ticket`: the id of the ticket it came with */
  onJobDone?: (ticket: string | undefined) => void
}

export interface MigrationInit {
  /** jobs run here at once for others; more are refused (default twice the CPUs, at least 4) */
  maxJobs?: number
  /** wall-time limit of a job run here */
  wallMs?: number
  /** memory limit of a job run here, its /tmp included (default a share of RAM) */
  memoryBytes?: number
  /** process limit of a job run here */
  pids?: number
  /** let jobs use the network (default: no network in the sandbox) */
  allowNetwork?: boolean
  /** false: --no-sandbox, jobs for others run unsandboxed (as the job user); default: in bubblewrap, or refused */
  sandbox?: boolean
  /** bubblewrap's path (default: found on PATH) */
  bwrap?: string
  /** where job directories go (default outside the home: /var/lib/kappa-node/jobs as root) */
  jobsDir?: string
  /** jobs are refused, and a running one stopped, below this much free space for job directories */
  diskFloorBytes?: number
  /** size cap of the content-addressed store (default 8 GiB) */
  storeBytes?: number
  /** how a job sees its workspace here: an overlay over the mirror, a copy of it, or whichever works (default) */
  view?: 'overlay' | 'copy' | 'auto'
  /** a target's heartbeat period while a job runs */
  heartbeatMs?: number
  /** an origin gives a silent job up after this */
  livenessMs?: number
  clock?: Clock
}

export interface ResolvedMigrationInit {
  maxJobs: number
  wallMs: number
  allowNetwork: boolean
  storeBytes: number
  view: 'overlay' | 'copy' | 'auto'
  heartbeatMs: number
  livenessMs: number
  clock: Clock
}

export interface JobView {
  id: string
  /** the origin (jobs in) or the target (jobs out) */
  peer: string
  argv0: string
  startedAt: number
}

/** The counters `status` shows: the control contract's, kept here as the jobs move. */
export type MigrationCounters = JobCounters

/** What the thin client sends on the control socket. */
export interface RunParams {
  argv: string[]
  cwd: string
  /** the client's PATH, to find argv[0] as its shell would */
  path: string
  /** the client's whole environment (filtered before it travels) */
  env: Record<string, string>
  /** --env NAME: travels even if it is host-specific; --no-env NAME: does not travel */
  envAdd: string[]
  envDrop: string[]
  /** the client's HOME (the workspace search stops below it) and umask */
  home?: string
  umask: number
  /** --workspace DIR */
  workspace?: string
  inputs: string[]
  outputs: string[]
  /** auto: the overlay decides; local: run here (--local, the daemon only records it); remote: never here; peer: on `peer` */
  mode: 'auto' | 'local' | 'remote' | 'peer'
  peer?: string
  stdin: boolean
  /** the client's stdout / stderr pipes, which the daemon may write into itself */
  pipes?: ClientPipes
}

export interface Migration {
  start (): Promise<void>
  stop (): Promise<void>
  /** the control socket's streaming `run` method */
  serveRun (params: Record<string, unknown>, socket: Socket, rest: Buffer): Promise<void>
  jobs (): { in: JobView[], out: JobView[], counters: MigrationCounters }
  /** room for one more job here, counting promised ones (tickets out): a full node does not offer itself in probes */
  hasFreeSlot (): boolean
  /** "busy: N jobs running here (limit M)" when full; why jobs are refused when there is no working sandbox */
  busy (): string | undefined
  /** the sandbox as checked at start */
  sandbox (): SandboxStatus
}

export function createMigration (components: MigrationComponents, init: MigrationInit = {}): Migration {
  const counters: MigrationCounters = { jobsIn: 0, jobsOut: 0, refused: 0, exeBytesSent: 0, exeBytesReceived: 0, exeCacheHits: 0, workspaceBytesSent: 0, workspaceBytesReceived: 0 }
  const maxJobs = init.maxJobs ?? Math.max(4, 2 * availableParallelism())
  const resolved: ResolvedMigrationInit = {
    maxJobs,
    wallMs: init.wallMs ?? DEFAULT_JOB_WALL_MS,
    allowNetwork: init.allowNetwork ?? false,
    storeBytes: init.storeBytes ?? DEFAULT_STORE_BYTES,
    view: init.view ?? 'auto',
    heartbeatMs: init.heartbeatMs ?? HEARTBEAT_MS,
    livenessMs: init.livenessMs ?? LIVENESS_MS,
    clock: init.clock ?? systemClock
  }
  const host = new JobHost({ home: components.home, sandbox: init.sandbox !== false, bwrap: init.bwrap, jobsDir: init.jobsDir, memoryBytes: init.memoryBytes, pids: init.pids, diskFloorBytes: init.diskFloorBytes })
  // one worker thread and one set of hashes for both sides
  const toolchains = new ToolchainCache()
  const runner = new JobRunner(components, resolved, counters, host, toolchains)
  const scanner = new WorkspaceScanner()
  const sender = new JobSender(components, resolved, counters, scanner, toolchains)
  return {
    async start () {
      await runner.start()
      announceSandbox(host.status, components.events)
      await components.libp2p.handle(PROTOCOL_MIGRATE, components.access.guard(PROTOCOL_MIGRATE, 'paired-or-ticket', async (stream, connection) => {
        await runner.onStream(stream, connection)
      }), { maxInboundStreams: 64, maxOutboundStreams: 64 })
    },
    async stop () {
      await runner.stop()
      scanner.close()
      toolchains.close()
      await runner.close()
      await components.libp2p.unhandle(PROTOCOL_MIGRATE).catch(logged(debug, 'unregistering the protocol'))
    },
    async serveRun (params, socket, rest) {
      await sender.serve(parseRunParams(params), socket, rest)
    },
    // a node that would refuse every job does not offer itself in probes
    hasFreeSlot () {
      return host.refusal == null && runner.running.size + components.tickets.outstanding() < maxJobs
    },
    busy () {
      if (host.refusal != null) return host.refusal
      return this.hasFreeSlot() ? undefined : `busy: ${runner.running.size} jobs running here (limit ${maxJobs})`
    },
    sandbox () {
      return host.status
    },
    jobs () {
      return {
        in: [...runner.running.values()].map(j => j.view),
        out: [...sender.running.values()],
        counters: { ...counters }
      }
    }
  }
}

/** What `start` says about the sandbox: what runs how, what is missing and how to fix it. */
function announceSandbox (status: SandboxStatus, events: DaemonEvents): void {
  const limits = `memory ${formatBytes(status.limits.memoryBytes)}, ${status.limits.pids} processes per job${status.limits.cgroups ? '' : ' (no cgroups: rlimits only)'}`
  if (status.mode === 'refused') {
    events.emit({ type: 'warning', message: `sandbox: jobs for others are refused: ${status.refusal ?? ''}` })
    for (const fix of status.fixes) events.emit({ type: 'warning', message: `sandbox: to fix: ${fix}` })
  } else if (status.mode === 'none') {
    events.emit({ type: 'warning', message: `sandbox: off (--no-sandbox): jobs for others run as ${status.user ?? '?'} with this machine's whole file system and network in view, at the workspace's copy rather than its own path; limits: ${limits}` })
  } else {
    events.emit({ type: 'info', message: `sandbox: bubblewrap, jobs for others run as ${status.user ?? '?'}; limits: ${limits}; job directories in ${status.jobsDir}` })
  }
  for (const note of status.notes) events.emit({ type: 'warning', message: `sandbox: ${note}` })
}

export type { SandboxStatus }

function strings (v: unknown, what: string): string[] {
  if (v == null) return []
  if (!Array.isArray(v) || v.some(x => typeof x !== 'string')) throw new UserError(`${what} must be a list of strings`)
  return v
}

export function parseRunParams (p: Record<string, unknown>): RunParams {
  const argv = strings(p.argv, 'argv')
  if (argv.length === 0 || argv[0] === '') throw new UserError('nothing to run: give a command after --')
  const env: Record<string, string> = {}
  if (p.env != null && typeof p.env === 'object') {
    for (const [k, v] of Object.entries(p.env as Record<string, unknown>)) if (typeof v === 'string') env[k] = v
  }
  const mode = p.mode === 'local' || p.mode === 'remote' || p.mode === 'peer' ? p.mode : 'auto'
  const umask = typeof p.umask === 'number' && Number.isInteger(p.umask) && p.umask >= 0 && p.umask <= 0o777 ? p.umask : 0o022
  return {
    argv,
    cwd: absoluteCwd(p.cwd),
    path: typeof p.path === 'string' ? p.path : '/usr/local/bin:/usr/bin:/bin',
    env,
    envAdd: strings(p.envAdd, 'envAdd'),
    envDrop: strings(p.envDrop, 'envDrop'),
    home: typeof p.home === 'string' ? p.home : undefined,
    umask,
    workspace: typeof p.workspace === 'string' && p.workspace !== '' ? p.workspace : undefined,
    inputs: strings(p.inputs, 'inputs'),
    outputs: strings(p.outputs, 'outputs'),
    mode,
    peer: typeof p.peer === 'string' ? p.peer : undefined,
    stdin: p.stdin === true,
    pipes: parseClientPipes(p.stdio)
  }
}
