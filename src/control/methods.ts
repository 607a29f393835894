/**
 * The control socket's contract: every method a client may call, with what
 * it sends and what it gets back. Written out here (not derived from the
 * services) because it is a wire format: the daemon's implementation must
 * satisfy it, and a change to it is a change of protocol.
 *
 * Transport (src/control/server.ts): one JSON line in,
 * `{"method": M, "params": P}`; one JSON line out, `{"ok": true, "result": R}`
 * or `{"ok": false, "error": "<one line>", "code": ErrorCode}` (src/errors.ts).
 * The streaming methods (`run`, `jobs-follow`) keep the socket after the
 * request line: `run` speaks the frames of src/control/frames.ts,
 * `jobs-follow` sends one JSON line per job update.
 */
import type { JobRecord } from '../events.js'

export interface PeerAddrs {
  id: string
  alias?: string | null
  addrs: string[]
}

export interface PairedPeer {
  id: string
  alias: string | null
  addrs: string[]
  connected: boolean
}

export interface PairRequestEntry {
  id: string
  alias?: string
  addrs: string[]
  receivedAt: number
}

export interface NearbyEntry {
  id: string
  addrs: string[]
  lastSeenMs: number
}

export interface NeighbourEntry {
  id: string
  alias: string | null
  addrs: string[]
  connected: boolean
  advertised: number
  dismetric: number
  lastSeenMs: number | null
}

/** `kappa-node status --json`, the dashboard's /status.json */
export interface StatusDocument {
  id: string
  alias: string | null
  addrs: string[]
  sysmetric: number | null
  sendProbe: number | null
  metricOverride: number | null
  /** the metric's parts (src/metric MetricBreakdown), null until the first reading */
  metric: { static: number, share: number, memFactor: number, dynamic: number, benchmarkMeasuredAt: string, benchmarkBusy: boolean } | null
  benchmark: { running: true, done?: number, total?: number } | null
  /** `messages`: metric messages since start (sent, received, triggered updates skipped because the value had not moved) */
  gossip: { delayMs: number, c: number, splitHorizon: boolean, messages: { sent: number, received: number, unchanged: number } }
  neighbours: NeighbourEntry[]
  jobs: { in: JobEntry[], out: JobEntry[], counters: JobCounters }
  /** bwrap, unsandboxed (--no-sandbox) or refused */
  sandbox: string
  /** the sandbox check's result: mode, reason, fix, limits */
  jobSandbox: JobSandboxEntry
  hint: { slots: number, claimed: number } | null
  bulkPort: number | null
}

/** how this node runs jobs for others (src/migrate/jobhost.ts SandboxStatus) */
export interface JobSandboxEntry {
  mode: 'bwrap' | 'none' | 'refused'
  refusal?: string
  fixes: string[]
  notes: string[]
  user?: string
  limits: { memoryBytes: number, pids: number, diskFloorBytes: number, cgroups: boolean }
  jobsDir: string
}

/** what this node's jobs moved since it started (the migration keeps them: src/migrate MigrationCounters) */
export interface JobCounters {
  /** jobs run here for others, and sent elsewhere */
  jobsIn: number
  jobsOut: number
  /** jobs from others this node refused */
  refused: number
  /** executable bytes sent to targets and received from origins; jobs here whose executable was cached already */
  exeBytesSent: number
  exeBytesReceived: number
  exeCacheHits: number
  /** workspace content moved (directories and blobs to targets, change sets back) */
  workspaceBytesSent: number
  workspaceBytesReceived: number
}

export interface JobEntry {
  id: string
  peer: string
  argv0: string
  startedAt: number
}

export type ProbeAnswer =
  | { local: true, reason: string, own?: number, best?: { id: string, dismetric: number }, path?: string[], target?: { id: string, sysmetric: number } }
  | { local: false, path: string[], target: { id: string, sysmetric: number, addrs: string[] }, ticketBytes: number, ticketTtlMs: number }

export interface PairAnswer {
  status: 'paired' | 'pending'
  id: string
  alias?: string
}

export interface RebenchAnswer {
  static: number
  measuredAt: string
  busy: boolean
  othersBusy: number
  kernels: unknown[]
  durationMs: number
  metric: unknown
  pinned: boolean
}

type Empty = Record<string, never>

/** method → [params, result] */
export interface ControlMethods {
  id: [Empty, PeerAddrs & { alias: string | null }]
  peers: [Empty, PairedPeer[]]
  status: [Empty, StatusDocument]
  probe: [Empty, ProbeAnswer]
  /** a number pins the sysmetric, null measures again */
  pin: [{ value: number | null }, { sysmetric: number | null, pinned: boolean }]
  invite: [{ ttlMs?: number }, { invite: string, expiresAt: number }]
  jobs: [{ limit?: number }, { running: JobRecord[], recent: JobRecord[] }]
  rebench: [Empty, RebenchAnswer]
  pair: [{ target: string, alias?: string }, PairAnswer]
  accept: [{ peer: string, alias?: string }, PairAnswer]
  unpair: [{ peer: string }, { id: string, alias?: string, notified: boolean }]
  requests: [Empty, PairRequestEntry[]]
  discover: [Empty, NearbyEntry[]]
  alias: [{ peer: string, alias?: string }, { id: string, alias: string | null }]
}

export type ControlMethodName = keyof ControlMethods
export type ParamsOf<M extends ControlMethodName> = ControlMethods[M][0]
export type ResultOf<M extends ControlMethodName> = ControlMethods[M][1]

/**
 * The daemon's side: one handler per method. Params arrive as untrusted
 * JSON, so a handler receives them unchecked and validates what it reads.
 */
export type ControlHandlers = {
  [M in ControlMethodName]: (params: Partial<Record<keyof ParamsOf<M>, unknown>>, options: { signal: AbortSignal }) => Promise<ResultOf<M>>
}
