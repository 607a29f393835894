/** Protocol ids, defaults and limits shared by the daemon and the CLI. */
import { readFileSync } from 'node:fs'

/**
 * Node flags every daemon starts with (bin/kappa-node repeats them; a test
 * checks the two agree). V8 sizes the old generation for a small heap
 * (a daemon's is ~17 MiB) and counts buffers in it: moving a job's output
 * at hundreds of MB/s then starts a full collection every ~50 ms, which
 * cost the origin a third of its CPU. A larger starting limit lets the
 * young collections free the buffers instead.
 */
export const DAEMON_NODE_FLAGS = ['--initial-old-space-size=128']

/** The version in package.json (one place to bump; `--version`, the banner and /metrics' build_info say it). */
export const VERSION: string = readVersion()

/** The nearest package.json named kappa-node above this module: dist/src/ here, dist/src/cli/ in the bundle. */
function readVersion (): string {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'))
      if (pkg.name === 'kappa-node') return typeof pkg.version === 'string' ? pkg.version : 'unknown'
    } catch {
      // none here (or unreadable): look one level up
    }
  }
  return 'unknown' // a copy without its package.json: still runs
}

export const PROTOCOL_PAIR = '/kappa/pair/2'
export const PROTOCOL_METRIC = '/kappa/metric/1'
export const PROTOCOL_PROBE = '/kappa/probe/2'
export const PROTOCOL_MIGRATE = '/kappa/migrate/3'

/** Default TCP port a node listens on (all interfaces). */
export const DEFAULT_PORT = 4747
/** The read-only dashboard and Prometheus /metrics: localhost only by default. */
export const DEFAULT_HTTP = '127.0.0.1:4748'
/** mDNS service tag: only kappa nodes answer it, so a suggestion is a kappa node. */
export const MDNS_SERVICE_TAG = '_kappa._udp.local'
export const MDNS_INTERVAL_MS = 10_000

/** Invites: one use, short-lived, random (128 bits). */
export const INVITE_TTL_MS = 10 * 60_000
export const INVITE_TOKEN_BYTES = 16
/** How long a spent or expired token is remembered, for a precise refusal message. */
export const INVITE_MEMORY_MS = 60 * 60_000

/**
 * Pairing requests waiting for the owner's `accept`: short-lived (the owner
 * is told at once; a requester asks again), a few per source address (fresh
 * identities cost nothing, addresses do), a bounded queue.
 */
export const PAIR_REQUEST_TTL_MS = 5 * 60_000
export const MAX_PAIR_REQUESTS = 32
export const MAX_PAIR_REQUESTS_PER_SOURCE = 4
/** Our own outgoing requests, waiting for the other owner's accept. */
export const OUTGOING_REQUEST_TTL_MS = 15 * 60_000

/** /kappa/pair/2 limits: small messages, short exchanges, rate-limited strangers. */
export const PAIR_MAX_MESSAGE_BYTES = 4096
export const PAIR_TIMEOUT_MS = 10_000
export const PAIR_RATE_POINTS = 20
export const PAIR_RATE_DURATION_S = 60
export const MAX_ADDRS_PER_PEER = 16
export const MAX_ALIAS_LENGTH = 64
/** A stranger's connection that does not finish a pairing exchange is closed after this. */
export const STRANGER_GRACE_MS = 10_000
export const MAX_STRANGER_CONNECTIONS = 16
export const MAX_STRANGER_CONNECTIONS_PER_SOURCE = 4

/** Paired peers that are not connected are redialled with backoff between these bounds. */
export const RECONNECT_MIN_MS = 1_000
export const RECONNECT_MAX_MS = 60_000
/** Peer-store tag of paired peers: the connection manager prunes their connections last. */
export const PAIRED_PEER_TAG = 'kappa-paired'

/** Control socket: one JSON line each way, bounded. */
export const CONTROL_MAX_LINE_BYTES = 1024 * 1024
export const CONTROL_TIMEOUT_MS = 30_000

/** Migration tickets issued with a probe reply: single use, bound to the origin. */
export const TICKET_TTL_MS = 30_000
/**
 * An origin that takes a probe's offer uses its ticket at once (its stream
 * is already open): an unused ticket holds one of the node's job slots this
 * long, and counts as pending work in the metric as long (PENDING_TICKET_MS).
 */
export const TICKET_HOLD_MS = 3_000
/** Unused tickets out through one relaying neighbour, at most; a probe beyond is declined. */
export const MAX_TICKETS_PER_RELAY = 8
/** Of those, how many hold a job slot at once: one neighbour's unused promises never fill a node (at least 4 slots). */
export const MAX_HELD_TICKETS_PER_RELAY = 2

/** Algorithm I/II/III transport limits. */
export const METRIC_MAX_MESSAGE_BYTES = 256
export const PROBE_MAX_MESSAGE_BYTES = 16 * 1024
export const PROBE_MAX_PATH = 64
/** Each hop keeps this much of the deadline for relaying the answer back. */
export const PROBE_HOP_MARGIN_MS = 50

/** /kappa/migrate/1: frames carry at most this much data; bulk data is batched up to it. */
export const MIGRATE_CHUNK_BYTES = 256 * 1024
export const MIGRATE_MAX_FRAME_BYTES = 8 * 1024 * 1024
/** Directory messages are batched into TREE frames of about this size. */
export const TREE_FRAME_BYTES = 512 * 1024
/** A target sends a HEARTBEAT this often while a job runs… */
export const HEARTBEAT_MS = 5_000
/** …and an origin that hears nothing for this long gives the job up (exit 255). */
export const LIVENESS_MS = 30_000
/** Caps, reported in refusals: the executable, and what a job's change set may carry back (workspace limits: src/workspace/constants.ts). */
export const MAX_EXE_BYTES = 512 * 1024 * 1024
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024 * 1024
export const MAX_ARGV_BYTES = 256 * 1024
/** Setting up a job (request, executable, inputs) must finish within this… */
export const MIGRATE_SETUP_TIMEOUT_MS = 120_000
/** …plus 1 ms per KiB the workspace's first sync moves (a floor of 1 MiB/s: a slow Wi-Fi link still gets there)… */
export const SETUP_MS_PER_KIB = 1
/** …and 10 ms per file it moves (a floor of 100 files/s: 5000 small files took over 120 s on a target loaded ten times over). */
export const SETUP_MS_PER_BLOB = 10

/** How long a job's first sync may take, both ends alike: `bytes` in `blobs` files. */
export function transferDeadlineMs (bytes: number, blobs: number): number {
  return MIGRATE_SETUP_TIMEOUT_MS + Math.ceil(SETUP_MS_PER_KIB * bytes / 1024) + SETUP_MS_PER_BLOB * blobs
}
/**
 * Bulk connections (src/bulk): a job that has moved this much over its
 * /kappa/migrate/1 stream is offered a direct TCP connection for the rest,
 * keyed inside the stream; small jobs never pay for the extra connection.
 */
export const BULK_MIN_BYTES = 1024 * 1024
/** An offer not taken up within this is forgotten. */
export const BULK_OFFER_TTL_MS = 30_000
/** A connection to the bulk port must name its offer and prove its key within this. */
export const BULK_HELLO_TIMEOUT_MS = 5_000
/** Connections to the bulk port that have not yet proved an offer, at most. */
export const BULK_MAX_UNPROVEN = 32
/** A side that announced SWITCH must have its bulk connection up within this. */
export const BULK_SWITCH_TIMEOUT_MS = 10_000
/** Largest record on a bulk connection (one frame). */
export const BULK_MAX_RECORD_BYTES = MIGRATE_MAX_FRAME_BYTES + 64 * 1024
/** Each read of a bulk connection lands in one reused buffer of this size (no allocation per read). */
export const BULK_READ_BUFFER_BYTES = 1024 * 1024

/** Jobs run for others are niced (as distccd and iceccd do): the node's own daemon and its owner come first. */
export const JOB_NICENESS = 10

/** Default wall-time limit of a job run for someone else. */
export const DEFAULT_JOB_WALL_MS = 60 * 60_000
/** Default memory limit of one job run for someone else, as a share of this machine's RAM (its /tmp counts). */
export const JOB_MEMORY_SHARE = 0.5
/** Default process (and thread) limit of one job run for someone else. */
export const DEFAULT_JOB_PIDS = 1024
/** CPU weight of a job's cgroup on cgroup v2's scale (100: a normal process; v1 shares are scaled from it). */
export const JOB_CPU_WEIGHT = 25
/** Jobs are refused, and a running job stopped, when the job directories' file system has less free than this. */
export const JOB_DISK_FLOOR_BYTES = 1024 ** 3
/** How often a running job's limits (disk floor, process limit) are looked at. */
export const JOB_WATCH_MS = 500

/**
 * Pending-work accounting (src/metric/pending.ts): a job placed here (a used
 * ticket, or a local run) counts as a runnable process until a reading of
 * the runnable processes has risen for it, and at most this long after it
 * has surely started (a job too short for any reading to catch).
 */
export const METRIC_SETTLE_MS = 2_000
/** A job the origin tells its client to run locally has surely started this long after (longer on a loaded machine). */
export const LOCAL_START_GRACE_MS = 2_000

/**
 * The placement hint (src/daemon/hint.ts, docs/builds.md): at most this many
 * wrapped commands start here on one published hint without asking the
 * daemon; the next one asks, and the daemon publishes a new hint.
 */
export const HINT_MAX_SLOTS = 16
/** The hint follows every sample, gossip message and placement, rewritten at most this often. */
export const HINT_MIN_GAP_MS = 20

/**
 * Job history (src/jobs, `kappa-node jobs`): finished jobs are appended to
 * $KAPPA_HOME/jobs.jsonl; after this many lines it becomes jobs.jsonl.1 (the
 * one before is dropped), so the history keeps between one and two times
 * this many jobs and never grows without bound.
 */
export const JOB_HISTORY_ROTATE = 1000
/** Jobs kept in memory for `jobs`, the dashboard and follow-ups. */
export const JOB_HISTORY_KEPT = 1000
/** A job's argv as stored and shown: at most this many bytes (a peer chooses argv). */
export const JOB_ARGV_SHOWN_BYTES = 4096
/** Recent jobs `kappa-node jobs` lists by default. */
export const JOBS_LISTED = 20

/** Dashboard (src/http): a change is pushed this long after it happened (one push per burst). */
export const DASHBOARD_PUSH_MS = 250
/** …and the whole state at least this often, so ages move and the page knows the node is alive. */
export const DASHBOARD_HEARTBEAT_MS = 2_000
/** Open dashboards (server-sent event streams) at once. */
export const DASHBOARD_MAX_CLIENTS = 32
/** Jobs of the history the dashboard shows. */
export const DASHBOARD_JOBS_SHOWN = 50
