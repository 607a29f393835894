#!/usr/bin/env node
/**
 * The `kappa-node` command line. Only commander and the thin control-socket
 * client load here; the daemon (libp2p) is imported by `start` alone, so the
 * other subcommands start fast.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { UserError, errorMessage } from '../errors.js'
import { DEFAULT_HTTP, DEFAULT_PORT, VERSION } from '../constants.js'
import { USAGE_EXIT } from './usage.js'

const commands = async () => await import('./commands.js')

const program = new Command()
  .name('kappa-node')
  .description('Peer-to-peer load balancer and transparent process migrator (Kappa on libp2p)')
  .version(VERSION, '-V, --version', 'print the version (from package.json)')
  .enablePositionalOptions()
  .showHelpAfterError('(run kappa-node help for usage)')
  .configureOutput({ outputError: (str, write) => { write(str) } })
  // usage errors (unknown option, missing or bad argument) exit 2, not commander's 1
  .exitOverride()

/** Every command takes --home, and --json where it prints data. */
function common (cmd: Command, json = true): Command {
  cmd.addOption(new Option('--home <dir>', 'kappa home directory (default $KAPPA_HOME or ~/.kappa)'))
  if (json) cmd.option('--json', 'print one JSON document on stdout')
  return cmd
}

function intArg (name: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number, got '${value}'`)
    return n
  }
}

/** `--wide`: full peer ids and addresses, no 80-column limit */
function wide (cmd: Command): Command {
  return cmd.option('--wide', 'full peer ids and addresses (tables are cut to 80 columns otherwise)')
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
  .description('run the node in the foreground (prints its id, addresses and an invite line); settings: flags, then KAPPA_* variables, then $KAPPA_HOME/config.toml')
  .option('--config <file>', 'settings file (default $KAPPA_CONFIG or $KAPPA_HOME/config.toml)')
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
  .option('--hop-cost <c>', 'per-hop overhead c subtracted from a neighbour\'s metric (default 0; the paper\'s tables use 15)', intArg('--hop-cost'))
  .option('--max-jobs <n>', 'jobs run here at once for other nodes (default twice the CPUs, at least 4)', intArg('--max-jobs'))
  .option('--job-timeout <seconds>', 'wall-time limit of a job run here (default 3600)', intArg('--job-timeout'))
  .option('--job-memory <bytes>', 'memory limit of a job run here, its /tmp included (default half the RAM)', intArg('--job-memory'))
  .option('--job-pids <n>', 'process limit of a job run here (default 1024)', intArg('--job-pids'))
  .option('--jobs-dir <dir>', 'where job directories go (default /var/lib/kappa-node/jobs as root, /var/tmp/kappa-<uid>/jobs otherwise)')
  .option('--allow-network', 'let jobs run here for others use the network')
  .option('--no-sandbox', 'run jobs for others without bubblewrap, seeing this machine\'s files (not recommended; without it and without a working sandbox, jobs for others are refused)')
  .addOption(new Option('--job-disk-floor <bytes>', 'refuse jobs, and stop a running one, below this much free space for job directories (default 1 GiB)').argParser(intArg('--job-disk-floor')).hideHelp())
  .addOption(new Option('--bwrap <path>', 'bubblewrap binary (tests)').hideHelp())
  .option('--bulk-port <port>', 'TCP port for the bulk connections of big jobs, on the --listen address (default any free port)', intArg('--bulk-port'))
  .option('--no-bulk', 'keep all job data on the libp2p streams (no bulk connections)')
  .addOption(new Option('--no-pending-accounting', 'do not count promised jobs in the metric (experiments)').hideHelp())
  .addOption(new Option('--proc <dir>', 'proc root the metric reads (tests)').hideHelp())
  .addOption(new Option('--metric-interval <ms>', 'take a metric sample every ms instead of every 5 s (tests, experiments)').argParser(intArg('--metric-interval')).hideHelp())
  .addOption(new Option('--ticket-ttl <ms>', 'life of a migration ticket (tests)').argParser(intArg('--ticket-ttl')).hideHelp())
  .addOption(new Option('--mdns-interval <ms>', 'mDNS query interval').argParser(intArg('--mdns-interval')).hideHelp())
  .addOption(new Option('--mdns-port <port>', 'mDNS UDP port (tests)').argParser(intArg('--mdns-port')).hideHelp())
  .action(async (opts, cmd: Command) => {
    await run(async () => {
      const { startCommand } = await import('./start.js')
      return await startCommand(opts, (key) => cmd.getOptionValueSource(key))
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

wide(common(program.command('requests'))).description('list pending pairing requests')
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

wide(common(program.command('peers'))).description('list paired peers')
  .action(async (opts) => { await run(async () => { await (await commands()).peersCommand(opts) }) })

wide(common(program.command('discover'))).description('list unpaired kappa nodes seen on the LAN (mDNS)')
  .action(async (opts) => { await run(async () => { await (await commands()).discoverCommand(opts) }) })

wide(common(program.command('status'))).description('metric, neighbours and jobs of the running node')
  .action(async (opts) => { await run(async () => { await (await commands()).statusCommand(opts) }) })

wide(common(program.command('jobs')))
  .description('jobs running now and recent ones: where each ran, how long, how it ended, bytes moved')
  .option('-f, --follow', 'then print each job as it starts and ends (with --json: one JSON object per line)')
  .option('-n, --limit <n>', 'recent jobs to list (default 20)', intArg('--limit'))
  .action(async (opts) => {
    await run(async () => {
      const { jobsCommand } = await import('./jobs.js')
      return await jobsCommand(opts)
    })
  })

common(program.command('probe'))
  .description('run Algorithm II now: where would a job started here run?')
  .action(async (opts) => { await run(async () => { await (await commands()).probeCommand(opts) }) })

common(program.command('pin'))
  .description('pin the advertised sysmetric of the running node (experiments), or `off` to measure again')
  .argument('<value>', 'a number, or off')
  .action(async (value, opts) => { await run(async () => { await (await commands()).pinCommand(value, opts) }) })

/** What a job takes along, for `run` and for every shim `wrap` writes (which passes them on to `run`). */
function jobOptions (cmd: Command): Command {
  return cmd
    .option('--workspace <dir>', 'the directory the job sees and changes (default: the enclosing git work tree or .kappa-workspace, else the current directory)')
    .option('--input <path>', 'also send this file or directory outside the workspace, read-only (repeatable)', collect, [])
    .option('--output <path>', 'also bring back this file outside the workspace (repeatable)', collect, [])
    .option('--env <name>', 'pass this environment variable even if it is host-specific (repeatable)', collect, [])
    .option('--no-env <name>', 'keep this environment variable at home (repeatable)', collect, [])
    .option('--stdin', 'forward stdin even when it is a terminal')
}

/** `--env NAME` and `--no-env NAME` as given (commander would read --no-env as the negation of --env). */
function envLists (args: string[]): { env: string[], noEnv: string[] } {
  const lists = { env: [] as string[], noEnv: [] as string[] }
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const m = /^--(no-env|env)(?:=(.*))?$/.exec(args[i])
    if (m == null) continue
    const value = m[2] ?? args[++i]
    if (value != null) (m[1] === 'env' ? lists.env : lists.noEnv).push(value)
  }
  return lists
}

jobOptions(program.command('run')
  .description('run a program on the best node (like `nice` or `time`): same output, exit status and files')
  .addOption(new Option('--home <dir>', 'kappa home directory (default $KAPPA_HOME or ~/.kappa)'))
  .option('--local', 'run here, without asking the overlay')
  .option('--remote', 'run on another node, never here (fail instead)')
  .option('--peer <peer>', 'run on this paired peer (id or alias)')
  .option('--retry-local', 'if kappa fails the job (target lost, sandbox, a remote compiler\'s failure), run it here once more (docs/builds.md)'))
  .argument('<command...>', 'the command and its arguments, after --')
  .passThroughOptions()
  .action(async (command: string[], opts) => {
    await run(async () => {
      // commander reads `--no-env NAME` as the negation of --env: the lean parser reads it as itself
      const { parseRunArgs, runParsed } = await import('./run-main.js')
      const lean = parseRunArgs(process.argv.slice(process.argv.indexOf('run') + 1))
      const { retryLocal, ...rest } = opts
      return await runParsed(lean?.command ?? command, lean?.opts ?? rest, lean?.retryLocal ?? retryLocal === true)
    })
  })

jobOptions(common(program.command('wrap'), false)
  .description('make shims so unmodified tools start these commands through kappa (put the directory first on PATH); run\'s options given here pass on to every call')
  .option('--dir <dir>', 'where to put the shims (default $KAPPA_HOME/wrap)')
  .option('--remote', 'the shims run the commands on another node, never here')
  .option('--peer <peer>', 'the shims run the commands on this paired peer (here if it fails)'))
  .argument('<command...>')
  .action(async (command: string[], opts) => {
    await run(async () => {
      const { wrapCommand } = await import('../run/wrap.js')
      await wrapCommand(command, { ...opts, ...envLists(process.argv.slice(process.argv.indexOf('wrap') + 1)) })
    })
  })

common(program.command('metric'))
  .description('measure and print this machine\'s system metric (works without a daemon)')
  .option('--window <ms>', 'sampling window for the CPU share', intArg('--window'), 1000)
  .option('--rebench', 'measure the CPU again now (the running node, if any, takes the new score)')
  .option('--proc <dir>', 'proc root to read (for tests)', '/proc')
  .action(async (opts) => {
    await run(async () => {
      const { runMetricCommand } = await import('../metric/command.js')
      return await runMetricCommand({ home: opts.home, windowMs: opts.window, json: opts.json === true, procRoot: opts.proc, rebench: opts.rebench === true })
    })
  })

program.command('completion')
  .description('print a shell completion script: eval "$(kappa-node completion bash)" (or zsh, fish)')
  .argument('<shell>', 'bash, zsh or fish')
  .action(async (shell: string) => {
    await run(async () => {
      const { completionScript } = await import('./completion.js')
      process.stdout.write(completionScript(program, shell))
    })
  })

// what completion scripts ask for (paired peers' aliases and ids); prints nothing without a daemon
program.command('__complete', { hidden: true })
  .argument('<what>')
  .option('--home <dir>')
  .action(async (what: string, opts) => {
    if (what !== 'peers') return
    try {
      const { callDaemon } = await import('../control/client.js')
      const { resolveHome } = await import('../home/index.js')
      const peers: Array<{ id: string, alias: string | null }> = await callDaemon(resolveHome(opts.home), 'peers', {}, 2000)
      process.stdout.write(peers.flatMap(p => p.alias != null ? [p.alias, p.id] : [p.id]).join('\n') + '\n')
    } catch {
      // no daemon, no suggestions
    }
  })

// `kappa-node peers --json | head -1`: a reader that has gone is no error (as for cat or ls)
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

program.parseAsync(process.argv).catch((err) => {
  if (err instanceof CommanderError) {
    // help and --version end here too, with exit status 0; commander has printed the message
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT
    return
  }
  if (err instanceof UserError) {
    process.stderr.write(`kappa-node: ${err.message}\n`)
    process.exitCode = err.exitCode
    return
  }
  process.stderr.write(`kappa-node: ${errorMessage(err)}\n`)
  process.exitCode = 1
})
