/**
 * Fast entry for `kappa-node run`, used by bin/kappa-node: the same options
 * as the full CLI's `run`, parsed without loading commander, so a wrapped
 * command (make -j with kappa shims) pays as little start-up as possible.
 * Anything it does not recognise goes to the full CLI, which explains it.
 */
import { runCommand, type RunOptions } from '../run/client.js'
import { UserError } from '../errors.js'

const FLAGS = new Set(['--local', '--remote', '--stdin', '--retry-local'])
const VALUED = new Set(['--home', '--peer', '--input', '--output', '--env', '--no-env', '--workspace'])

/** The run options and the command, or undefined when the full CLI should handle it (help, odd syntax). */
export function parseRunArgs (args: string[]): { opts: RunOptions, command: string[], retryLocal: boolean } | undefined {
  const opts: RunOptions = { input: [], output: [], env: [], noEnv: [] }
  let retryLocal = false
  let i = 0
  for (; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') { i++; break }
    if (!arg.startsWith('-')) break
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (FLAGS.has(name) && eq < 0) {
      if (name === '--local') opts.local = true
      else if (name === '--remote') opts.remote = true
      else if (name === '--retry-local') retryLocal = true
      else opts.stdin = true
      continue
    }
    if (!VALUED.has(name)) return undefined
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i]
    if (value == null) return undefined
    if (name === '--home') opts.home = value
    else if (name === '--peer') opts.peer = value
    else if (name === '--input') opts.input?.push(value)
    else if (name === '--output') opts.output?.push(value)
    else if (name === '--no-env') opts.noEnv?.push(value)
    else if (name === '--workspace') opts.workspace = value
    else opts.env?.push(value)
  }
  const command = args.slice(i)
  if (command.length === 0) return undefined
  return { opts, command, retryLocal }
}

/** `run`, or `run --retry-local` (every wrapped command): the exit status. */
export async function runParsed (command: string[], opts: RunOptions, retryLocal: boolean): Promise<number> {
  if (!retryLocal) return await runCommand(command, opts)
  if (opts.remote === true || opts.local === true) throw new UserError('--retry-local goes with neither --remote (never here) nor --local (only here)')
  const { runWithRetry } = await import('../run/retry.js')
  return await runWithRetry(command, opts)
}

async function main (): Promise<void> {
  const parsed = parseRunArgs(process.argv.slice(3))
  if (parsed == null) {
    await import('./main.js')
    return
  }
  try {
    process.exitCode = await runParsed(parsed.command, parsed.opts, parsed.retryLocal)
  } catch (err) {
    process.stderr.write(`kappa-node: ${err instanceof UserError ? err.message : `unexpected error: ${(err as Error).message}`}\n`)
    process.exitCode = err instanceof UserError ? err.exitCode : 1
  }
}

// only as the entry point (bin/kappa-node): the full CLI imports runParsed from here
if (process.argv[2] === 'run' && /[\\/]run-main\.js$/.test(process.argv[1] ?? '')) await main()
