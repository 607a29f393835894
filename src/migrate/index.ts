import { availableParallelism } from 'node:os'
import { JobRunner } from './target.js'
import { JobSender, absoluteCwd } from './origin.js'
import { UserError } from '../errors.js'
import { parseClientPipes, type ClientPipes } from '../control/direct.js'
import { PROTOCOL_MIGRATE, DEFAULT_JOB_WALL_MS } from '../constants.js'
import type { Access } from '../access/index.js'
import type { TrustStore } from '../trust/index.js'
import type { TicketBook } from '../tickets/index.js'
import type { Overlay } from '../overlay/index.js'
import type { DaemonEvents } from '../events.js'
import type { BulkListener } from '../bulk/index.js'
import type { Libp2p } from '@libp2p/interface'
import type { Socket } from 'node:net'

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
}

export interface MigrationInit {
  /** jobs run here at once for others; more are refused (default twice the CPUs, at least 4) */
  maxJobs?: number
  /** wall-time limit of a job run here */
  wallMs?: number
  /** address-space limit of a job run here (prlimit --as) */
  memoryBytes?: number
  /** let jobs use the network (default: no network in the sandbox) */
  allowNetwork?: boolean
  /** bubblewrap binary; undefined runs jobs unsandboxed */
  bwrap?: string
}

export interface JobView {
  id: string
  /** the origin (jobs in) or the target (jobs out) */
  peer: string
  argv0: string
  startedAt: number
}

export interface MigrationCounters {
  jobsIn: number
  jobsOut: number
  refused: number
  exeBytesSent: number
  exeBytesReceived: number
  exeCacheHits: number
}

/** What the thin client sends on the control socket. */
export interface RunParams {
  argv: string[]
  cwd: string
  /** the client's PATH, to find argv[0] as its shell would */
  path: string
  env: Record<string, string>
  inputs: string[]
  outputs: string[]
  mode: 'auto' | 'remote' | 'peer'
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
  /** "busy: N jobs running here (limit M)" when full */
  busy (): string | undefined
}

export function createMigration (components: MigrationComponents, init: MigrationInit = {}): Migration {
  const counters: MigrationCounters = { jobsIn: 0, jobsOut: 0, refused: 0, exeBytesSent: 0, exeBytesReceived: 0, exeCacheHits: 0 }
  const maxJobs = init.maxJobs ?? Math.max(4, 2 * availableParallelism())
  const runner = new JobRunner(components, {
    maxJobs,
    wallMs: init.wallMs ?? DEFAULT_JOB_WALL_MS,
    memoryBytes: init.memoryBytes,
    allowNetwork: init.allowNetwork ?? false,
    bwrap: init.bwrap as string
  }, counters)
  const sender = new JobSender(components, counters)
  return {
    async start () {
      await runner.start()
      await components.libp2p.handle(PROTOCOL_MIGRATE, components.access.guard(PROTOCOL_MIGRATE, 'paired-or-ticket', async (stream, connection) => {
        await runner.onStream(stream, connection)
      }), { maxInboundStreams: 64, maxOutboundStreams: 64 })
    },
    async stop () {
      runner.stop()
      await components.libp2p.unhandle(PROTOCOL_MIGRATE).catch(() => {})
    },
    async serveRun (params, socket, rest) {
      await sender.serve(parseRunParams(params), socket, rest)
    },
    hasFreeSlot () {
      return runner.running.size + components.tickets.outstanding() < maxJobs
    },
    busy () {
      return this.hasFreeSlot() ? undefined : `busy: ${runner.running.size} jobs running here (limit ${maxJobs})`
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
  const mode = p.mode === 'remote' || p.mode === 'peer' ? p.mode : 'auto'
  return {
    argv,
    cwd: absoluteCwd(p.cwd),
    path: typeof p.path === 'string' ? p.path : '/usr/local/bin:/usr/bin:/bin',
    env,
    inputs: strings(p.inputs, 'inputs'),
    outputs: strings(p.outputs, 'outputs'),
    mode,
    peer: typeof p.peer === 'string' ? p.peer : undefined,
    stdin: p.stdin === true,
    pipes: parseClientPipes(p.stdio)
  }
}
