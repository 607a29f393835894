import { errorMessage } from '../errors.js'
import type { Logger } from '@libp2p/logger'

/** Something started that must be stopped: its name (for the debug log) and how. */
interface Running {
  name: string
  stop: () => Promise<void> | void
}

/**
 * The daemon's parts, started one after another and stopped in reverse, as
 * js-libp2p's `libp2p.ts` does: when a part fails to start, every part that
 * did start is stopped again before the failure goes up, so a failed start
 * leaves no timer, socket or listener behind (and the process can exit).
 */
export class ServiceStack {
  private readonly running: Running[] = []
  private stopping?: Promise<void>

  constructor (private readonly log: Logger) {}

  /** Start one part; `stop` is kept (and later called with what `start` gave) only if it started. */
  async start<T>(name: string, start: () => Promise<T> | T, stop: (started: T) => Promise<void> | void): Promise<T> {
    if (this.stopping != null) throw new Error(`cannot start ${name}: the daemon is stopping`)
    this.log('starting %s', name)
    const started = await start()
    this.running.push({ name, stop: async () => { await stop(started) } })
    return started
  }

  /** A part with nothing to start, only something to undo at stop (a listener, a timer). */
  defer (name: string, stop: () => Promise<void> | void): void {
    this.running.push({ name, stop })
  }

  /** Stop what started, last first; a part that fails to stop is logged and the rest still stop. Idempotent. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of this.running.splice(0).reverse()) {
        try {
          await part.stop()
          this.log('stopped %s', part.name)
        } catch (err) {
          this.log.error('stopping %s failed: %s', part.name, errorMessage(err))
        }
      }
    })()
    await this.stopping
  }
}

/** Run `body` with a stack; if it throws, what it started is stopped before the error goes up. */
export async function startAll<T> (stack: ServiceStack, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (err) {
    await stack.stop()
    throw err
  }
}
