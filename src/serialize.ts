/**
 * Turns taken one at a time, in the order they were asked for: a mutex for
 * async work (a mirror's update, a job's cgroup directories, a channel's
 * writes, a placement decision). Each turn starts once the one before has
 * settled, whether it succeeded or failed: a failed turn's caller gets the
 * error, and the next turn runs all the same.
 *
 * A promise chain, not p-queue: a channel takes one turn per frame it
 * writes, and a writer awaiting each turn paid 1.1–12 µs a turn with p-queue
 * against 0.2–0.5 µs here (200 000 empty turns, node 22, this busy 2-core
 * machine). p-queue also starts a turn inside add() when idle, where these
 * callers had it start a microtask later. The metric sampler, one turn per
 * sample, keeps its p-queue.
 */
import { debugLogger, logged, type Logger } from './debug.js'

export interface Serializer {
  /** Run `fn` once every turn asked for before it has settled; its result or error is the caller's. */
  <T>(fn: () => Promise<T>): Promise<T>
  /** Resolves (never rejects) once every turn asked for so far has settled. */
  settled: () => Promise<void>
}

/** `log`: where a failed turn is noted (at debug level: its caller has the error). */
export function serializer (log: Logger = debugLogger('serialize')): Serializer {
  let tail: Promise<void> = Promise.resolve()
  const noteFailure = logged(log, 'a queued step (its caller sees the failure)')
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    const turn = tail.then(() => fn())
    tail = turn.then(() => {}, noteFailure)
    return await turn
  }
  return Object.assign(run, { settled: async () => { await tail } })
}
