import { TICKET_HOLD_MS } from '../constants.js'

/**
 * Tunables of the system metric (SPEC §4, paper §IV.A). One place, so the
 * daemon, the CLI, the simulator and the tests agree.
 */

/** /proc/stat deltas are taken over this window (paper: "every five seconds"). */
export const DEFAULT_WINDOW_MS = 5000

/** The daemon re-samples this often. */
export const DEFAULT_INTERVAL_MS = 5000

/**
 * The daemon's very first sample uses a shorter window so a node has a value
 * to advertise about a second after start-up instead of five.
 */
export const FIRST_WINDOW_MS = 1000

/** Shorter windows see too few jiffies (USER_HZ is 100) to mean anything. */
export const MIN_WINDOW_MS = 100

/**
 * Pending-work accounting: an origin that takes a probe's offer uses the
 * ticket at once (its probe deadline is 2 s); a ticket not used this long
 * after it was issued is an offer that was dropped — a reply that came too
 * late, or one the origin turned down — and stops counting as a promised job
 * (it stays valid for its full TTL).
 */
export const PENDING_TICKET_MS = TICKET_HOLD_MS

/** Memory counts only when MemAvailable/MemTotal drops below this (eq. 4). */
export const DEFAULT_MEM_THRESHOLD = 0.10

/** D = DYNAMIC_SCALE · share · m: an idle machine's D, so that idle S=100 → 155. */
export const DYNAMIC_SCALE = 400

/** Sysmetric = (STATIC_WEIGHT·S + DYNAMIC_WEIGHT·D) / 2 (eq. 5). */
export const STATIC_WEIGHT = 0.3
export const DYNAMIC_WEIGHT = 0.7

/** S of the reference machine (every kernel at its reference time). */
export const STATIC_REFERENCE = 100

export type KernelName = 'sjeng' | 'gcc' | 'libquantum' | 'xalan'

export const KERNEL_NAMES: readonly KernelName[] = ['sjeng', 'gcc', 'libquantum', 'xalan']

/**
 * Reference time of each kernel at scale 1, in ms: S = 100 · mean(ref/t).
 *
 * Calibration: the reference machine is the 2-vCPU AMD EPYC (Zen 4) VM
 * kappa-node was developed on, Node 22.23. The benchmark was run 57 times
 * over three minutes (a fresh worker each time, as at boot); these are the
 * medians of each kernel's per-run median, from the 15 runs during which the
 * rest of the VM was idle (the other 42 agreed within 2 %). That machine
 * scores S ≈ 100. Changing a kernel, its size or these numbers must bump
 * BENCHMARK_VERSION so cached scores are recomputed.
 */
export const KERNEL_REFERENCE_MS: Readonly<Record<KernelName, number>> = {
  sjeng: 13.0,
  gcc: 16.3,
  libquantum: 20.9,
  xalan: 15.3
}

/**
 * Bumped whenever a kernel, a reference time or the way a kernel's time is
 * taken changes (invalidates caches). 2: the best repetition of the
 * time the benchmark thread was on a CPU, instead of the median wall time.
 */
export const BENCHMARK_VERSION = 2

/**
 * The kernels run round-robin (sjeng, gcc, libquantum, xalan, sjeng, …) rather
 * than one after the other: on a shared VM the host's load comes in phases of
 * a second or so, and interleaving spreads every kernel over all of them.
 * The first rounds are untimed so the timed ones run JIT-optimised code.
 */
export const BENCHMARK_WARMUP_ROUNDS = 3

/**
 * Timed rounds; a kernel's time is its best repetition: other programs can
 * only make a repetition slower (they evict caches, they interrupt it), so
 * the fastest is the closest to what the machine can do.
 */
export const BENCHMARK_ROUNDS = 12

/**
 * Timed rounds stop early (after at least MIN_BENCHMARK_ROUNDS) once the
 * whole run has used this much time, so a slow machine still finishes soon.
 */
export const BENCHMARK_BUDGET_MS = 2500
export const MIN_BENCHMARK_ROUNDS = 5

/**
 * A benchmark run during which other programs used more than this share of
 * the CPUs is marked as taken on a busy machine: the daemon measures again
 * once the machine is idle, and keeps the better score.
 */
export const BENCHMARK_BUSY_SHARE = 0.25
/** The machine counts as idle enough to measure again when its idle fraction is at least this. */
export const REBENCH_IDLE_FRACTION = 0.75
/** A score taken on a busy machine is re-measured at most this often (and not before this long after start-up). */
export const REBENCH_RETRY_MS = 10 * 60_000

/** A benchmark worker that has not answered by then is killed. */
export const BENCHMARK_TIMEOUT_MS = 60_000
