/**
 * An expected failure (daemon not running, bad argument, refused,
 * unreachable): the CLI prints its message as one line and exits 1, never a
 * stack trace.
 */
export class UserError extends Error {
  override name = 'UserError'
  constructor (message: string, readonly exitCode = 1) {
    super(message)
  }
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
