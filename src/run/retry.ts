/**
 * Never break a build (distcc's rule, docs/builds.md): a command run through
 * `wrap` or `run --retry-local` that kappa failed — the target vanished, the
 * job was lost, the daemon or the target's sandbox failed — runs again here,
 * once, with one line on stderr. A compiler driver's failure is retried here
 * as well, silently, because it may be the target's toolchain or files and
 * not the source (distcc retries every failed remote compile); the local
 * result stands, and a local success after a remote failure is said in one
 * line. Other programs' exit statuses are their own verdict: they are never
 * run twice.
 */
import { basename } from 'node:path'
import { runHere, runJob, type RunOptions, type RunOutcome } from './client.js'
import { isCompilerDriver } from '../host/drivers.js'

// a compile is a function of its inputs, so running one again is safe
export { isCompilerDriver }

/** What to do after a run: keep its status, or run the command here once more (and what to say). */
export type RetryDecision =
  | { retry: false, say?: string }
  | { retry: true, say?: string, compile: boolean }

export function decideRetry (argv0: string, outcome: Omit<RunOutcome, 'held'> & { released: boolean }): RetryDecision {
  const name = basename(argv0)
  // a re-run would show output again, or miss the input it already consumed; a signal from here is answered
  const clean = !outcome.released && !outcome.stdinUsed && !outcome.interrupted
  if (outcome.verdict === 'kappa') {
    if (!clean) return { retry: false, say: outcome.reason }
    return { retry: true, say: `${outcome.reason ?? 'the remote run failed'}; running ${name} here instead`, compile: false }
  }
  if (outcome.where === 'local' || outcome.status === 0 || !clean) return { retry: false }
  if (isCompilerDriver(argv0)) return { retry: true, compile: true }
  return { retry: false }
}

function note (line: string): void {
  process.stderr.write(`kappa-node: ${line}\n`)
}

/** `run --retry-local` and every wrapped command: run, and run here again when kappa (or a remote toolchain) failed it. */
export async function runWithRetry (argv: string[], opts: RunOptions): Promise<number> {
  const outcome = await runJob(argv, { ...opts, retry: true })
  // the target's sandbox launcher failed before the program ran (its one line is bwrap's, not the program's)
  const launcher = outcome.where === 'remote' && outcome.verdict === 'program' && outcome.status === 1 ? outcome.held.stderrStartsWith('bwrap: ') : undefined
  if (launcher != null) Object.assign(outcome, { verdict: 'kappa', reason: `the remote node's sandbox failed (${launcher})` })
  const decision = decideRetry(argv[0], { ...outcome, released: outcome.held.released })
  if (!decision.retry) {
    outcome.held.release()
    if (decision.say != null) note(decision.say)
    return outcome.status
  }
  // what the remote run said, so that the line after a local success names the file or tool that differs
  const said = decision.compile ? outcome.held.firstErrorLine() : undefined
  outcome.held.drop()
  if (decision.say != null) note(decision.say)
  const status = await runHere(argv)
  if (decision.compile && status === 0) note(`${basename(argv[0])} failed on the remote node (${describe(outcome.status)}${said != null ? `: ${said}` : ''}) but succeeded here: that node's toolchain or files differ from this one's`)
  return status
}

function describe (status: number): string {
  return status > 128 ? `killed by signal ${status - 128}` : `exit ${status}`
}
