/**
 * What the daemon tells its owner: one line per event for people, one JSON
 * object per line with `start --json`.
 */
export type DaemonEvent =
  /** no invite here: events go to logs, and a log must never hold a live token (the banner shows one on a terminal) */
  | { type: 'ready', id: string, addrs: string[], alias?: string, home: string, dashboard?: string }
  | { type: 'paired', id: string, alias?: string, via: 'invite' | 'request' | 'accept' }
  | { type: 'unpaired', id: string, alias?: string, by: 'us' | 'peer' }
  | { type: 'pair-request', id: string, alias?: string, addrs: string[] }
  | { type: 'discovered', id: string, addrs: string[] }
  | { type: 'connected', id: string, alias?: string }
  | { type: 'disconnected', id: string, alias?: string }
  | { type: 'neighbour-expired', id: string, alias?: string }
  | { type: 'job-placed', argv0: string, where: 'local' | 'remote', target?: string, alias?: string, path?: string[], sysmetric?: number, reason?: string, own?: number, best?: { id: string, dismetric: number } }
  | { type: 'job-started', job: JobRecord }
  | { type: 'job-ended', job: JobRecord }
  | { type: 'warning', message: string }
  | { type: 'info', message: string }

/**
 * One job as this node saw it: run here for someone else (`in`), sent
 * elsewhere (`out`), or kept here (`local`: the client runs it and reports
 * how it ended). Emitted as `job-started` and again, complete, as
 * `job-ended`; the job history, `kappa-node jobs`, the dashboard and
 * /metrics are built from these two events only.
 */
export interface JobRecord {
  /** unique on this node */
  id: string
  direction: 'in' | 'out' | 'local'
  /** peer ids: for `local` both are this node */
  origin: string
  target: string
  argv: string[]
  cwd?: string
  /** why it runs where it runs (the placement decision, or why it fell back) */
  reason?: string
  /** ms since the epoch */
  startedAt: number
  endedAt?: number
  durationMs?: number
  /** bytes this node sent for the job, by kind */
  bytesSent: { executable: number, workspace: number, stdio: number }
  /** bytes this node received for the job, by kind */
  bytesReceived: { executable: number, workspace: number, stdio: number }
  /** how the job's bytes travelled: the libp2p stream only, or a bulk connection too */
  path?: 'stream' | 'bulk'
  /** the target already had everything (no executable or workspace bytes moved) */
  cached?: boolean
  /** ms since the request reached this node, per step of the job's setup (where its time went) */
  phases?: Record<string, number>
  exitCode?: number | null
  signal?: string | null
  /**
   * ok: exit 0; failed: non-zero exit; signal: killed by a signal; lost: the
   * connection or the node went away while it ran; refused: a target refused
   * it; fell-back: meant to run elsewhere, ran here instead
   */
  outcome?: 'ok' | 'failed' | 'signal' | 'lost' | 'refused' | 'fell-back'
}

export interface DaemonEvents {
  emit (event: DaemonEvent): void
  /** Components react to events (a new pairing adds a gossip neighbour, …). */
  subscribe (listener: (event: DaemonEvent) => void): () => void
}
