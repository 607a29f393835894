import { SMALL_FILES_PER_TURN } from './constants.js'

/**
 * Counts the synchronous file calls of a long walk (SMALL_FILE_BYTES says
 * why they are synchronous) and says when the event loop is due a turn:
 * once every SMALL_FILES_PER_TURN of them, so a walk of thousands of small
 * files never holds the daemon's peers up for long.
 */
export class SyncTurns {
  private count = 0

  /** True on every SMALL_FILES_PER_TURN-th call: the caller then lets the event loop run (`await setImmediate()`). */
  due (): boolean {
    if (++this.count < SMALL_FILES_PER_TURN) return false
    this.count = 0
    return true
  }
}
