#!/usr/bin/env node
/**
 * The `kappa-node` command line. Only commander and the thin control-socket
 * client load here; the daemon (libp2p) is imported by `start` alone, so the
 * other subcommands start fast.
 */
import { Command, Option } from 'commander'
import { UserError, errorMessage } from './errors.js'

const program = new Command()
  .name('kappa-node')
  .description('Peer-to-peer load balancer and transparent process migrator (Kappa on libp2p)')
  .showHelpAfterError('(run kappa-node help for usage)')
  .configureOutput({ outputError: (str, write) => { write(str) } })

/** Every command takes --home, and --json where it prints data. */
function common (cmd: Command, json = true): Command {
  cmd.addOption(new Option('--home <dir>', 'kappa home directory (default $KAPPA_HOME or ~/.kappa)'))
  if (json) cmd.option('--json', 'print one JSON document on stdout')
  return cmd
}

function intArg (name: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) throw new UserError(`${name} must be a non-negative number, got '${value}'`)
    return n
  }
}

async function run (action: () => Promise<number | void>): Promise<void> {
  try {
    const code = await action()
    process.exitCode = code ?? 0
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`kappa-node: ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`kappa-node: unexpected error: ${errorMessage(err)}\n`)
    if (process.env.KAPPA_DEBUG != null) process.stderr.write(`${(err as Error).stack ?? ''}\n`)
    process.exitCode = 1
  }
}

common(program.command('metric'))
  .description('measure and print this machine\'s system metric (works without a daemon)')
  .option('--window <ms>', 'sampling window for the CPU share', intArg('--window'), 1000)
  .option('--proc <dir>', 'proc root to read (for tests)', '/proc')
  .action(async (opts) => {
    await run(async () => {
      const { runMetricCommand } = await import('../metric/command.js')
      return await runMetricCommand({ home: opts.home, windowMs: opts.window, json: opts.json === true, procRoot: opts.proc })
    })
  })

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`kappa-node: ${errorMessage(err)}\n`)
  process.exitCode = 1
})
