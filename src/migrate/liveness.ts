/** Time, injected so that tests of deadlines do not wait for real time. */
export interface Clock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return t },
  clearTimeout: (h) => { clearTimeout(h as NodeJS.Timeout) }
}

/**
 * The origin's watch over a running job: the target sends a frame (output,
 * or a HEARTBEAT every few seconds) as long as it lives; silence for
 * `deadlineMs` means it is gone (a frozen machine, a cut cable that TCP has
 * not noticed yet). A long silent compile is not silence: the target's
 * heartbeats go on.
 */
export class Liveness {
  private last: number
  private timer?: unknown
  private stopped = false

  constructor (private readonly deadlineMs: number, private readonly clock: Clock, private readonly onSilent: (silentMs: number) => void) {
    this.last = clock.now()
    this.schedule(deadlineMs)
  }

  /** A frame came. */
  heard (): void {
    this.last = this.clock.now()
  }

  stop (): void {
    this.stopped = true
    if (this.timer != null) this.clock.clearTimeout(this.timer)
  }

  private schedule (ms: number): void {
    this.timer = this.clock.setTimeout(() => { this.check() }, ms)
  }

  private check (): void {
    if (this.stopped) return
    const silent = this.clock.now() - this.last
    if (silent >= this.deadlineMs) {
      this.stopped = true
      this.onSilent(silent)
    } else {
      this.schedule(this.deadlineMs - silent)
    }
  }
}
