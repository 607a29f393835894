/**
 * Debug logging per component, off unless `DEBUG` names it
 * (`DEBUG=kappa:*`, `DEBUG=kappa:migrate,libp2p:*`): libp2p's own logger, so
 * one variable shows both. For what is worth a trace but not a line in the
 * node's log: a failure that is handled, a retry, a peer that went away.
 */
import type { Logger } from '@libp2p/logger'
import { errorMessage } from './errors.js'

export type { Logger }

// libp2p's logger loads only when DEBUG is set: `run` starts every wrapped
// command, and importing it costs ~45 ms of CPU there (measured) for
// loggers that are all off. The daemon loads it with libp2p anyway.
const libp2pLogger = (process.env.DEBUG ?? '') !== '' ? (await import('@libp2p/logger')).logger : undefined

const off: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => off
})

export function debugLogger (component: string): Logger {
  return libp2pLogger != null ? libp2pLogger(`kappa:${component}`) : off
}

/**
 * For `.catch()` on work whose failure is expected and handled by ending
 * there (closing a stream that may be gone): the failure is kept in the
 * debug log instead of being swallowed.
 */
export function logged (log: Logger, what: string): (err: unknown) => void {
  return (err) => { log('%s: %s', what, errorMessage(err)) }
}
