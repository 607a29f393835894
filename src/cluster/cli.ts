#!/usr/bin/env node
/**
 * `npm run cluster` (up) and `npm run keys` (keys): the namespace test
 * cluster in the foreground, and the generator of pre-paired homes that
 * docker-compose.yml mounts.
 */
import { Command, Option } from 'commander'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { UserError, errorMessage } from '../errors.js'
import { DEFAULT_PORT } from '../constants.js'
import { chainLinks, checkTopology, composeAddresses, loopbackAddresses, writeClusterKeys, type AddressScheme } from './keys.js'
import { BIN } from './entry.js'
import type { NamespaceCluster } from './index.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))

/** `a=0.5,c=0.25` (repeatable) → { a: 0.5, c: 0.25 } */
function perNode (flag: string) {
  return (value: string, previous: Record<string, number> = {}): Record<string, number> => {
    const out = { ...previous }
    for (const part of value.split(',').filter(p => p !== '')) {
      const m = /^([a-z][a-z0-9]*)=([0-9.]+)$/.exec(part)
      if (m == null || !Number.isFinite(Number(m[2])) || Number(m[2]) < 0) throw new UserError(`${flag} takes node=number pairs, e.g. a=0.5,c=0.25; got '${part}'`)
      out[m[1]] = Number(m[2])
    }
    return out
  }
}

function names (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

function number (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) throw new UserError(`${flag} must be a non-negative number, got '${value}'`)
    return n
  }
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

function checkNames (list: string[], values: Record<string, number>, flag: string): void {
  for (const name of Object.keys(values)) if (!list.includes(name)) throw new UserError(`${flag} names '${name}', which is not a node (nodes: ${list.join(', ')})`)
}

interface UpOptions {
  nodes: string[]
  cpus: Record<string, number>
  metricOverride: Record<string, number>
  delay?: number
  keys?: string
  prefix?: string
  pairing: 'invite' | 'generated'
}

async function up (opts: UpOptions): Promise<number> {
  const { createNamespaceCluster, namespaceSupport, removeStaleClusters } = await import('./index.js')
  checkTopology(opts.nodes, chainLinks(opts.nodes))
  checkNames(opts.nodes, opts.cpus, '--cpus')
  checkNames(opts.nodes, opts.metricOverride, '--metric-override')
  const why = await namespaceSupport()
  if (why != null) throw new UserError(`npm run cluster ${why}; try \`npm run demo\` (no root, loopback only)`)
  for (const line of await removeStaleClusters()) process.stdout.write(`removed a leftover of a crashed run: ${line}\n`)

  let cluster: NamespaceCluster | undefined
  let interruptedAt: number | undefined
  // a closed terminal or a dead `| tee` must not kill us half-way through the teardown
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptedAt != null) {
      // `npm run` forwards the Ctrl-C the terminal already sent us: only a later one means "now"
      if (Date.now() - interruptedAt < 2000) return
      process.stderr.write(`${signal} again: exiting now (the exit handler removes what it can)\n`)
      process.exit(1)
    }
    interruptedAt = Date.now()
    process.stdout.write(`\n${signal}: stopping the cluster…\n`)
    // without a cluster yet, the library's own handler tears the half-built one down and create() fails
    if (cluster == null) return
    cluster.stop().then(() => {
      process.stdout.write(`cluster ${cluster?.run ?? ''} removed: no namespace, cgroup or process left\n`)
      process.exit(0)
    }, (err) => {
      process.stderr.write(`cluster: ${errorMessage(err)}\n`)
      process.exit(1)
    })
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal)

  const links = chainLinks(opts.nodes)
  try {
    cluster = await createNamespaceCluster({
      nodes: opts.nodes.map(name => ({ name, cpus: opts.cpus[name] ?? 1, metricOverride: opts.metricOverride[name] })),
      links,
      delayMs: opts.delay,
      keysDir: opts.keys != null ? resolve(opts.keys) : undefined,
      pairing: opts.keys != null ? 'generated' : opts.pairing,
      prefix: opts.prefix,
      log: (line) => { process.stdout.write(`  ${line}\n`) }
    })
  } catch (err) {
    if (interruptedAt != null) {
      process.stdout.write('interrupted during start-up; everything created was removed\n')
      return 130
    }
    throw err
  }
  const [first, second, last] = [cluster.nodes[0], cluster.nodes[1] ?? cluster.nodes[0], cluster.nodes[cluster.nodes.length - 1]]
  const rows = [['node', 'ip', 'cpus', 'metric', 'peer id', 'paired with'], ...cluster.nodes.map(n => [
    n.name,
    n.ip,
    String(n.cgroup.cpus),
    opts.metricOverride[n.name] != null ? `pinned ${opts.metricOverride[n.name]}` : 'measured',
    n.id,
    links.filter(l => l.includes(n.name)).map(l => l[0] === n.name ? l[1] : l[0]).join(', ')
  ])]
  const job = "sh -c 'i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done; echo counted to $i'"
  const lines = [
    '',
    `kappa test cluster ${cluster.run}: ${cluster.nodes.length} nodes, each in its own network namespace on ${cluster.subnet}`,
    `(bridge ${cluster.bridge} in namespace ${cluster.hub}), each with a cgroup v${cluster.cgroups.layout.version} CPU quota under ${cluster.cgroups.path}/,`,
    `gossip every ${opts.delay ?? 5000} ms, paired as a chain ${opts.nodes.join('–')}.`,
    '',
    table(rows),
    '',
    'Try, as root in another terminal:',
    `  ${BIN} status --home ${first.home}`,
    `      ${first.name}'s metric and neighbours (${last.name}'s value reaches ${first.name} through ${second.name})`,
    `  ${first.enter} ${BIN} run --home ${first.home} -- ${job}`,
    `      a CPU-bound job started on ${first.name} (in its namespace and cgroup); the events below show where it ran`,
    `  ${first.enter}`,
    `      a shell on ${first.name}; \`ip netns exec ${first.ns} …\` also works, but outside ${first.name}'s cgroup`,
    `  ${BIN} pin 20 --home ${last.home}`,
    `      make ${last.name} look busy, then watch \`status\` on ${first.name} change`,
    `  ip -n ${cluster.hub} link set ${second.veth} down        (and \`up\` again)`,
    `      cut ${second.name} off: ${first.name} drops it within 3 × the gossip delay`,
    '',
    'Events from the nodes follow. Ctrl-C stops the cluster and removes everything.',
    ''
  ]
  process.stdout.write(lines.join('\n') + '\n')
  for (const node of cluster.nodes) {
    node.onEvent((e) => {
      if (e.type === 'info' && /benchmarking CPU/.test(e.message)) return
      const { time, type, ...rest } = e
      const alias = rest.alias != null ? ` (${String(rest.alias)})` : ''
      const detail = rest.message ?? `${String(rest.id ?? '')}${alias}`
      process.stdout.write(`${new Date(time ?? Date.now()).toISOString().slice(11, 23)} ${node.name}: ${type as string} ${detail as string}\n`)
    })
  }
  // the foreground: until a signal stops the cluster and exits
  return await new Promise<number>(() => {})
}

interface KeysOptions {
  dir: string
  nodes: string[]
  scheme: 'compose' | 'loopback'
  port: number
  fresh?: boolean
}

async function keys (opts: KeysOptions): Promise<void> {
  const links = chainLinks(opts.nodes)
  const ports = Object.fromEntries(opts.nodes.map((name, i) => [name, opts.port + i]))
  const scheme: AddressScheme = opts.scheme === 'compose' ? composeAddresses(opts.port) : loopbackAddresses(ports)
  const dir = resolve(opts.dir)
  const homes = await writeClusterKeys({ dir, names: opts.nodes, links, addresses: scheme, keepIdentities: opts.fresh !== true })
  const rows = [['node', 'peer id', 'dialled at', 'paired with'], ...homes.map(h => [h.name, h.id, h.addrs.join(' '), h.neighbours.join(', ')])]
  const next = opts.scheme === 'compose'
    ? ['then: docker compose up    (docker-compose.yml mounts keys/<node> as each service\'s KAPPA_HOME)']
    : ['then, one terminal per node:', ...homes.map(h => `  ${BIN} start --home ${h.home} --listen /ip4/127.0.0.1/tcp/${ports[h.name]} --alias ${h.name} --no-mdns`)]
  process.stdout.write([`wrote ${homes.length} pre-paired homes under ${dir} (chain ${opts.nodes.join('–')}, ${opts.scheme} addresses)`, '', table(rows), '', ...next, ''].join('\n'))
}

async function main (): Promise<void> {
  const program = new Command()
    .name('cluster')
    .description('kappa-node test clusters: network namespaces (root) and pre-paired homes for docker-compose')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => { write(str) } })

  const handle = (action: () => Promise<number | void>) => async (): Promise<void> => {
    try {
      process.exitCode = (await action()) ?? 0
    } catch (err) {
      process.stderr.write(`cluster: ${errorMessage(err)}\n`)
      if (!(err instanceof UserError) && process.env.KAPPA_DEBUG != null) process.stderr.write(`${(err as Error).stack ?? ''}\n`)
      process.exitCode = 1
    }
  }

  program.command('up')
    .description('bring up nodes as a chain, each in a network namespace with a cgroup CPU quota; Ctrl-C tears down (root)')
    .option('--nodes <names>', 'node names, in chain order', names, ['a', 'b', 'c'])
    .option('--cpus <node=n,…>', 'CPU quota per node, e.g. a=0.5,c=0.25 (default 1 each)', perNode('--cpus'), {})
    .option('--metric-override <node=n,…>', 'pin the advertised sysmetric of nodes, e.g. a=37,b=60,c=148', perNode('--metric-override'), {})
    .option('--delay <ms>', 'gossip period of every node (default 5000)', number('--delay'))
    .option('--keys <dir>', 'keep homes in <dir>/<node> (identities reused, pre-paired like docker-compose)')
    .addOption(new Option('--pairing <how>', 'invite: pair with invite lines, as users do; generated: pre-paired homes').choices(['invite', 'generated']).default('invite'))
    .option('--prefix <a.b.c>', 'the /24 to use inside 10.0.0.0/8 (default 10.47.<pid>)')
    .action(async (opts) => { await handle(async () => await up(opts as UpOptions))() })

  program.command('keys')
    .description('write pre-paired homes (identity.key + trust.json) for a chain of nodes')
    .option('--dir <dir>', 'where to write <dir>/<node>', resolve(REPO, 'keys'))
    .option('--nodes <names>', 'node names, in chain order', names, ['a', 'b', 'c'])
    .addOption(new Option('--scheme <scheme>', 'compose: /dns4/<node>/tcp/<port>; loopback: /ip4/127.0.0.1/tcp/<port + i>').choices(['compose', 'loopback']).default('compose'))
    .option('--port <port>', 'TCP port (loopback: of the first node)', number('--port'), DEFAULT_PORT)
    .option('--fresh', 'new identities (new peer ids) instead of keeping existing keys')
    .action(async (opts) => { await handle(async () => { await keys(opts as KeysOptions) })() })

  await program.parseAsync(process.argv)
}

main().catch((err) => {
  process.stderr.write(`cluster: ${errorMessage(err)}\n`)
  process.exitCode = 1
})
