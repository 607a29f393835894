import { UserError } from '../errors.js'

/** Exit status of a command used wrongly (unknown option, bad value), as getopt tools do. */
export const USAGE_EXIT = 2

/** A command used wrongly: one line on stderr, exit 2. */
export class UsageError extends UserError {
  override name = 'UsageError'
  constructor (message: string) {
    super(message, USAGE_EXIT)
  }
}
