/**
 * Per-hop overhead c: dismetric = advertised − c (paper eq. 6). The default
 * is 0: on a LAN, moving a job of seconds costs milliseconds, and the
 * paper's 15 (in metric units) outweighs the difference between two loaded
 * machines, so a burst stays at home (bench/makespan: 1.62 × the ideal with
 * 15, 1.13 × with 0). Values passed on still lose DEFAULT_MIN_RELAY_COST.
 */
export const DEFAULT_C = 0

/** The paper's c (148 → 133): `--hop-cost 15` reproduces its tables. */
export const PAPER_C = 15

/**
 * A value passed on through a neighbour loses c per hop (paper eq. 6), but
 * never less than this: with c = 0 (a LAN where moving a job costs nothing)
 * a value that goes round a cycle of the overlay — any triangle — would come
 * back undiminished, and a node's old, higher value would circulate forever
 * after the node got busy (split horizon only stops two-node echoes). With
 * this floor an echo loses at least 3 × 5 per trip round a triangle and dies
 * out in a few triggered updates; a node two hops away is seen 5 lower than
 * it is. Decisions still subtract c alone from what a neighbour advertises.
 */
export const DEFAULT_MIN_RELAY_COST = 5

/** Gossip period of Algorithm I (paper: 5 s, the metric sampling window). */
export const DEFAULT_DELAY_MS = 5000

/** A neighbour silent for this many periods is dropped from routing. */
export const DEFAULT_EXPIRY_FACTOR = 3

/**
 * Split horizon is on by default: without it two nodes echo a stale high
 * value back and forth (count-to-infinity, decaying by c per exchange) and
 * probes chase it. `false` is the paper-faithful behaviour.
 */
export const DEFAULT_SPLIT_HORIZON = true

/** Hops a probe may travel from its origin. */
export const DEFAULT_TTL = 8

/** Largest TTL a node accepts from others; bounds the work a probe can cause. */
export const MAX_TTL = 16

/** A probe with no reply by then means "run locally" (paper Table III row 1). */
export const DEFAULT_PROBE_DEADLINE_MS = 2000

/**
 * Largest metric value accepted from the network. Real sysmetrics are in the
 * low hundreds (SPEC §4); anything near this is a bug or an attack.
 */
export const MAX_METRIC = 1_000_000

/** Longest node id or probe id accepted (peer id strings are ~52 chars). */
export const MAX_ID_LENGTH = 128

/** Longest requirement string (architecture name, interpreter path). */
export const MAX_REQUIREMENT_LENGTH = 4096

/**
 * A node whose CPUs (or cgroup quota) are at least this busy — over the last
 * window, or now, counting the processes running now — is saturated: as the
 * origin of a job it then yields a tie (ORIGIN_YIELD_JOBS).
 */
export const ORIGIN_SATURATED_BUSY = 0.9

/**
 * What a saturated origin adds to its own runnable processes when it weighs
 * running a job here against a neighbour (Algorithm II, the placement hint,
 * the bar its probe sets): half a process. The origin of a build also runs
 * make, the clients of its wrapped calls and its side of every job it sent
 * away; a count of runnable processes at one instant misses them, and under
 * load the shares of equally busy nodes are equal, so every tie kept the job
 * here. In bench/build 11 of 17 "local-is-best" decisions were exact ties;
 * A, the origin, ran at its quota while B and C idled a quarter of the time.
 * Not when the origin has room: a job on an idle machine never moves for a tie.
 */
export const ORIGIN_YIELD_JOBS = 0.5
