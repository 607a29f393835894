/**
 * The placement hint wrapped commands read (docs/builds.md). The daemon
 * publishes `$KAPPA_HOME/local-hint`, one line `<generation> <slots>`,
 * replaced atomically (write beside, rename) whenever what Algorithm II
 * decides from may have changed: a metric sample, a neighbour's value, a
 * placement. A shim (src/run/wrap.ts) reads it with shell builtins and, for
 * a free slot, creates `local-claims/<generation>.<slot>` with noclobber
 * (O_EXCL: two shims never take the same slot) and execs the command here:
 * no Node start, no daemon round trip. A shim that finds no free slot asks
 * the daemon as before.
 *
 * The daemon counts every claim it finds as a local job (pending work, as
 * when it tells a client to run here), so its metric, its gossip and the
 * next hint see the jobs started on the hint. It looks before every reading
 * of its own metric, so a placement decision never misses them.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { homeFile } from '../home/index.js'
import { localSlots } from '../balance/index.js'
import { errorMessage } from '../errors.js'
import { HINT_MAX_SLOTS, HINT_MIN_GAP_MS } from '../constants.js'

export interface LocalHintInit {
  home: string
  /** this node's sysmetric with `extraJobs` more jobs started here; undefined while unknown */
  ownWith: (extraJobs: number) => number | undefined
  /** the best live neighbour's distribution metric; undefined when there is none */
  best: () => number | undefined
  /** a wrapped command started a job here on the hint (`id` names its claim) */
  onClaim: (id: string) => void
  log: (line: string) => void
  maxSlots?: number
}

const CLAIM = /^([a-z0-9]+)-(\d+)\.(\d+)$/

export class LocalHint {
  private readonly file: string
  private readonly claims: string
  /** unique per daemon run: a restarted daemon never honours an old run's claims */
  private readonly run = Date.now().toString(36)
  private generation = 0
  private readonly counted = new Set<string>()
  private timer?: NodeJS.Timeout
  private lastPublished = 0
  private stopped = true
  private failed = false
  private slots = 0
  /** jobs started here on the hint since the daemon started */
  private claimed = 0
  /** `claimed` when the hint on disk was written */
  private claimedWhenPublished = 0

  constructor (private readonly init: LocalHintInit) {
    this.file = homeFile(init.home, 'localHint')
    this.claims = homeFile(init.home, 'localClaims')
  }

  start (): void {
    this.stopped = false
    // an old run's hint and claims mean nothing now
    rmSync(this.claims, { recursive: true, force: true })
    mkdirSync(this.claims, { recursive: true, mode: 0o700 })
    this.publishNow()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    // shims ask the daemon (and find it gone) rather than trust a dead one's hint
    rmSync(this.file, { force: true })
    rmSync(this.claims, { recursive: true, force: true })
  }

  /** Count the claims made since the last look; the number of new ones. */
  sweep (): number {
    if (this.stopped) return 0
    let names: string[]
    try {
      names = readdirSync(this.claims)
    } catch (err) {
      this.report(err)
      return 0
    }
    let fresh = 0
    for (const name of names) {
      if (this.counted.has(name)) continue
      const m = CLAIM.exec(name)
      if (m == null || m[1] !== this.run) continue
      this.counted.add(name)
      this.claimed++
      this.init.onClaim(name)
      fresh++
    }
    return fresh
  }

  /** Republish soon (coalesced): something Algorithm II reads may have changed. */
  publish (): void {
    if (this.stopped || this.timer != null) return
    const wait = Math.max(0, this.lastPublished + HINT_MIN_GAP_MS - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.publishNow()
    }, wait)
    this.timer.unref()
  }

  /** The current hint: `<generation> <slots>`. */
  publishNow (): { generation: string, slots: number } | undefined {
    if (this.stopped) return undefined
    this.lastPublished = Date.now()
    this.sweep()
    const best = this.init.best()
    const slots = localSlots((k) => this.init.ownWith(k), best, this.init.maxSlots ?? HINT_MAX_SLOTS)
    // the same slots and none of them taken since: the hint on disk already says this (an idle
    // daemon is told of every neighbour's gossip, and a write and rename each time cost it ~2 ms)
    if (this.generation > 0 && !this.failed && slots === this.slots && this.claimed === this.claimedWhenPublished) {
      return { generation: `${this.run}-${this.generation}`, slots }
    }
    const generation = `${this.run}-${++this.generation}`
    try {
      const tmp = `${this.file}.${process.pid}.tmp`
      // no fsync: a hint is worth nothing after a crash (the next daemon removes it)
      writeFileSync(tmp, `${generation} ${slots}\n`, { mode: 0o600 })
      renameSync(tmp, this.file)
      this.slots = slots
      this.claimedWhenPublished = this.claimed
      this.forgetOldClaims()
      this.failed = false
    } catch (err) {
      this.report(err)
      return undefined
    }
    return { generation, slots }
  }

  /** For status: the slots of the current hint, and the jobs started here on hints so far. */
  view (): { slots: number, claimed: number } {
    return { slots: this.slots, claimed: this.claimed }
  }

  /** Claims two generations old and older (all counted by now): a shim still reading the previous hint finds its taken slots taken. */
  private forgetOldClaims (): void {
    for (const name of this.counted) {
      const m = CLAIM.exec(name)
      if (m == null || Number(m[2]) >= this.generation - 1) continue
      rmSync(join(this.claims, name), { force: true })
      this.counted.delete(name)
    }
  }

  private report (err: unknown): void {
    if (this.failed) return
    this.failed = true
    this.init.log(`placement hint: ${errorMessage(err)}; wrapped commands ask the daemon each time`)
  }
}
