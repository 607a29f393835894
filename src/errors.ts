/**
 * The failures every part of kappa-node reports, below every service: a
 * service throws one of these, the control socket carries its `code` to the
 * client, and only the CLI turns it into one line on stderr and an exit code.
 * Anything else that escapes is a bug ("unexpected error").
 */
export type ErrorCode =
  /** an argument, a file or a message is malformed or out of range */
  | 'BAD_INPUT'
  /** the other side (or this node's policy) said no: not paired, a used ticket, no sandbox */
  | 'REFUSED'
  /** a deadline passed before the answer came */
  | 'TIMED_OUT'
  /** the peer or address cannot be reached: connection refused, no route, no such address */
  | 'UNREACHABLE'
  /** something this needs is held by another (a home's daemon, a port) */
  | 'IN_USE'
  /** no daemon answers on this home's control socket */
  | 'NOT_RUNNING'
  /** an expected failure of another kind (a disk write, a child process) */
  | 'FAILED'

/**
 * An expected failure: the CLI prints its message as one line and exits with
 * `exitCode` (1 unless said), never a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError'
  readonly code: ErrorCode = 'FAILED'
  constructor (message: string, readonly exitCode = 1, options?: { cause?: unknown }) {
    super(message, options)
  }
}

export class BadInputError extends UserError {
  override name = 'BadInputError'
  override readonly code = 'BAD_INPUT'
}

export class RefusedError extends UserError {
  override name = 'RefusedError'
  override readonly code = 'REFUSED'
}

export class TimedOutError extends UserError {
  override name = 'TimedOutError'
  override readonly code = 'TIMED_OUT'
}

export class UnreachableError extends UserError {
  override name = 'UnreachableError'
  override readonly code = 'UNREACHABLE'
}

export class InUseError extends UserError {
  override name = 'InUseError'
  override readonly code = 'IN_USE'
}

export class NotRunningError extends UserError {
  override name = 'NotRunningError'
  override readonly code = 'NOT_RUNNING'
}

const BY_CODE: Record<ErrorCode, new (message: string, exitCode?: number) => UserError> = {
  BAD_INPUT: BadInputError,
  REFUSED: RefusedError,
  TIMED_OUT: TimedOutError,
  UNREACHABLE: UnreachableError,
  IN_USE: InUseError,
  NOT_RUNNING: NotRunningError,
  FAILED: UserError
}

/** The typed error for a code that came over the control socket (an unknown code is FAILED). */
export function errorFromCode (code: unknown, message: string): UserError {
  const Type = typeof code === 'string' && Object.hasOwn(BY_CODE, code) ? BY_CODE[code as ErrorCode] : UserError
  return new Type(message)
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/** An `Error` for what was thrown (a rejected promise may carry anything). */
export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/** Node's and libp2p's system error code (`ECONNREFUSED`, …), looking through `cause` and aggregate errors. */
export function systemCode (err: unknown, depth = 0): string | undefined {
  if (err == null || typeof err !== 'object' || depth > 4) return undefined
  const e = err as { code?: unknown, cause?: unknown, errors?: unknown }
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = systemCode(inner, depth + 1)
      if (code != null) return code
    }
  }
  return systemCode(e.cause, depth + 1)
}

/**
 * A failed dial or exchange with a peer as a typed error: timed out, refused
 * by the peer's machine, no route, or unreachable for another reason. Decided
 * on error names and system codes, never on message text.
 */
export function networkError (what: string, err: unknown): UserError {
  const name = (err as { name?: unknown } | null)?.name
  if (err instanceof UserError) return err
  if (name === 'TimeoutError' || name === 'AbortError') return new TimedOutError(`${what}: timed out`, 1, { cause: err })
  const code = systemCode(err)
  if (code === 'ECONNREFUSED') return new UnreachableError(`${what}: connection refused (is kappa-node running there?)`, 1, { cause: err })
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new UnreachableError(`${what}: host unreachable`, 1, { cause: err })
  if (code === 'EADDRNOTAVAIL') return new UnreachableError(`${what}: this machine has no such address`, 1, { cause: err })
  if (code === 'ECONNRESET' || code === 'EPIPE') return new UnreachableError(`${what}: the connection was closed`, 1, { cause: err })
  const inner = (err as { errors?: unknown[] } | null)?.errors?.[0]
  return new UnreachableError(`${what}: ${oneLine(errorMessage(inner ?? err))}`, 1, { cause: err })
}

/** Text from elsewhere (a peer, a library) as one short line. */
export function oneLine (text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, max).trim()
}
