#!/usr/bin/env node
/**
 * The `kappa-node` command line. Only commander and the thin control-socket
 * client load here; the daemon (libp2p) is imported by `start` alone, so the
 * other subcommands start fast.
 */
import { Command, Option } from 'commander'
import { UserError, errorMessage } from '../errors.js'
import { DEFAULT_HTTP, DEFAULT_PORT, VERSION } from '../constants.js'

const commands = async () => await import('./commands.js')

const program = new Command()
  .name('kappa-node')
  .description('Peer-to-peer load balancer and transparent process migrator (Kappa on libp2p)')
  .version(VERSION)
  .enablePositionalOptions()
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

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

common(program.command('start'))
  .description('run the node in the foreground (prints its id, addresses and an invite line)')
  .option('--listen <multiaddr>', `address to listen on, repeatable (default /ip4/0.0.0.0/tcp/${DEFAULT_PORT})`, collect)
  .option('--alias <name>', 'this node\'s name, suggested to peers when pairing')
  .option('--no-mdns', 'do not announce or look for kappa nodes on the LAN')
  .option('--no-pair-requests', 'refuse pairing requests from strangers (invites still work)')
  .option('--delay <ms>', 'gossip period of the metric exchange', intArg('--delay'))
  .option('--metric-override <n>', 'pin the advertised sysmetric (experiments, tests)', intArg('--metric-override'))
  .option('--http <host:port>', `read-only dashboard and Prometheus /metrics (default ${DEFAULT_HTTP})`)
  .option('--http-host <name>', 'a host name the dashboard answers to besides its address and localhost, repeatable', collect)
  .option('--no-http', 'no dashboard')
  .option('--no-split-horizon', 'paper-faithful gossip: also send a neighbour what was learned from it')
  .option('--hop-cost <c>', 'per-hop overhead c subtracted from a neighbour\'s metric (default 15, the paper\'s)', intArg('--hop-cost'))
  .option('--max-jobs <n>', 'jobs run here at once for other nodes (default twice the CPUs, at least 4)', intArg('--max-jobs'))
  .option('--job-timeout <seconds>', 'wall-time limit of a job run here (default 3600)', intArg('--job-timeout'))
  .option('--job-memory <bytes>', 'address-space limit of a job run here (default none)', intArg('--job-memory'))
  .option('--allow-network', 'let jobs run here for others use the network')
  .option('--no-sandbox', 'run jobs for others without bubblewrap (not recommended)')
  .option('--bulk-port <port>', 'TCP port for the bulk connections of big jobs, on the --listen address (default any free port)', intArg('--bulk-port'))
  .option('--no-bulk', 'keep all job data on the libp2p streams (no bulk connections)')
  .addOption(new Option('--no-pending-accounting', 'do not count promised jobs in the metric (experiments)').hideHelp())
  .addOption(new Option('--proc <dir>', 'proc root the metric reads (tests)').hideHelp())
  .addOption(new Option('--ticket-ttl <ms>', 'life of a migration ticket (tests)').argParser(intArg('--ticket-ttl')).hideHelp())
  .addOption(new Option('--mdns-interval <ms>', 'mDNS query interval').argParser(intArg('--mdns-interval')).hideHelp())
  .addOption(new Option('--mdns-port <port>', 'mDNS UDP port (tests)').argParser(intArg('--mdns-port')).hideHelp())
  .action(async (opts) => {
    await run(async () => {
      const { startCommand } = await import('./start.js')
      return await startCommand(opts)
    })
  })

common(program.command('id')).description('print this node\'s peer id and addresses')
  .action(async (opts) => { await run(async () => { await (await commands()).idCommand(opts) }) })

common(program.command('invite'))
  .description('print a one-time invite line for `kappa-node pair` on another machine')
  .option('--ttl <duration>', 'how long the invite is valid (e.g. 30s, 10m, 1h)', '10m')
  .action(async (opts) => {
    await run(async () => {
      const c = await commands()
      await c.inviteCommand({ ...opts, ttl: c.parseDuration(opts.ttl) })
    })
  })

common(program.command('pair'))
  .description('pair with a node: an invite line pairs at once, a multiaddr sends a request its owner accepts')
  .argument('<invite-or-multiaddr>')
  .option('--alias <name>', 'local name for the peer')
  .action(async (target, opts) => { await run(async () => { await (await commands()).pairCommand(target, opts) }) })

common(program.command('accept'))
  .description('accept a pending pairing request')
  .argument('<peer>', 'peer id (or the name it gave)')
  .option('--alias <name>', 'local name for the peer')
  .action(async (peer, opts) => { await run(async () => { await (await commands()).acceptCommand(peer, opts) }) })

common(program.command('requests')).description('list pending pairing requests')
  .action(async (opts) => { await run(async () => { await (await commands()).requestsCommand(opts) }) })

common(program.command('unpair'))
  .description('remove the pairing on both ends and hang up')
  .argument('<peer>', 'peer id or alias')
  .action(async (peer, opts) => { await run(async () => { await (await commands()).unpairCommand(peer, opts) }) })

common(program.command('alias'))
  .description('name a paired peer (no name: remove its alias)')
  .argument('<peer>', 'peer id or current alias')
  .argument('[name]')
  .action(async (peer, alias, opts) => { await run(async () => { await (await commands()).aliasCommand(peer, alias, opts) }) })

common(program.command('peers')).description('list paired peers')
  .action(async (opts) => { await run(async () => { await (await commands()).peersCommand(opts) }) })

common(program.command('discover')).description('list unpaired kappa nodes seen on the LAN (mDNS)')
  .action(async (opts) => { await run(async () => { await (await commands()).discoverCommand(opts) }) })

common(program.command('status')).description('metric, neighbours and jobs of the running node')
  .action(async (opts) => { await run(async () => { await (await commands()).statusCommand(opts) }) })

common(program.command('probe'))
  .description('run Algorithm II now: where would a job started here run?')
  .action(async (opts) => { await run(async () => { await (await commands()).probeCommand(opts) }) })

common(program.command('pin'))
  .description('pin the advertised sysmetric of the running node (experiments), or `off` to measure again')
  .argument('<value>', 'a number, or off')
  .action(async (value, opts) => { await run(async () => { await (await commands()).pinCommand(value, opts) }) })

program.command('run')
  .description('run a program on the best node (like `nice` or `time`): same output, exit status and files')
  .addOption(new Option('--home <dir>', 'kappa home directory (default $KAPPA_HOME or ~/.kappa)'))
  .option('--local', 'run here, without asking the overlay')
  .option('--remote', 'run on another node, never here (fail instead)')
  .option('--peer <peer>', 'run on this paired peer (id or alias)')
  .option('--input <path>', 'also send this file or directory (repeatable)', collect, [])
  .option('--output <path>', 'also bring back this file (repeatable)', collect, [])
  .option('--env <name>', 'pass this environment variable (repeatable)', collect, [])
  .option('--stdin', 'forward stdin even when it is a terminal')
  .argument('<command...>', 'the command and its arguments, after --')
  .passThroughOptions()
  .action(async (command: string[], opts) => {
    await run(async () => {
      const { runCommand } = await import('../run/client.js')
      return await runCommand(command, opts)
    })
  })

common(program.command('wrap'), false)
  .description('make shims so unmodified tools start these commands through kappa (put the directory first on PATH)')
  .option('--dir <dir>', 'where to put the shims (default $KAPPA_HOME/wrap)')
  .argument('<command...>')
  .action(async (command: string[], opts) => {
    await run(async () => {
      const { wrapCommand } = await import('../run/wrap.js')
      await wrapCommand(command, opts)
    })
  })

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
