/**
 * Client-side subcommands: each is one call on the daemon's control socket,
 * printed for people or, with --json, as one JSON document.
 */
import { callDaemon } from '../control/client.js'
import { resolveHome } from '../home/index.js'
import { UserError } from '../errors.js'
import { label, shortId } from '../names.js'
import { formatBytes, formatAge } from '../units.js'
import { table, TABLE_WIDTH } from './table.js'

export interface CommonOptions { home?: string, json?: boolean, wide?: boolean }

function print (opts: CommonOptions, data: unknown, human: () => string): void {
  process.stdout.write(opts.json === true ? JSON.stringify(data, null, 2) + '\n' : human() + '\n')
}

function name (p: { id: string, alias?: string | null }): string {
  return label(p.id, p.alias)
}

/** a peer id in a table: short unless --wide */
function idCell (opts: CommonOptions, id: string): string {
  return opts.wide === true ? id : shortId(id)
}

function width (opts: CommonOptions): number | null {
  return opts.wide === true ? null : TABLE_WIDTH
}

/** ip:port of a multiaddr, for a table (the full address with --wide) */
function addrCell (opts: CommonOptions, addr: string | undefined): string {
  if (addr == null) return '-'
  if (opts.wide === true) return addr
  const m = /^\/(?:ip4|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(addr) ?? /^\/ip6\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  if (m == null) return addr
  return addr.startsWith('/ip6/') ? `[${m[1]}]:${m[2]}` : `${m[1]}:${m[2]}`
}

function ago (ms: number | null | undefined): string {
  return ms == null ? '-' : formatAge(ms)
}

function num (v: number | null | undefined, digits = 0): string {
  return v == null ? '-' : v.toFixed(digits)
}

export async function idCommand (opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'id')
  print(opts, r, () => [`peer id  ${r.id}${r.alias != null ? `  (${r.alias})` : ''}`, ...r.addrs.map((a: string) => `         ${a}`)].join('\n'))
}

export async function inviteCommand (opts: CommonOptions & { ttl?: number }): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'invite', { ttlMs: opts.ttl != null ? opts.ttl * 1000 : undefined })
  print(opts, r, () => r.invite)
}

export async function pairCommand (target: string, opts: CommonOptions & { alias?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const r = await callDaemon(home, 'pair', { target, alias: opts.alias })
  if (r.status === 'pending' && opts.json !== true) {
    const self = await callDaemon(home, 'id')
    print(opts, r, () => `pairing request sent to ${name(r)}; it completes when its owner runs: kappa-node accept ${self.id}`)
    return
  }
  print(opts, r, () => `paired with ${name(r)}`)
}

export async function acceptCommand (peer: string, opts: CommonOptions & { alias?: string }): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'accept', { peer, alias: opts.alias })
  print(opts, r, () => `paired with ${name(r)}`)
}

export async function unpairCommand (peer: string, opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'unpair', { peer })
  print(opts, r, () => `unpaired ${name(r)}${r.notified === true ? '' : ' (it could not be told; it will find its streams refused)'}`)
}

export async function aliasCommand (peer: string, alias: string | undefined, opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'alias', { peer, alias })
  print(opts, r, () => r.alias != null ? `${shortId(r.id)} is now '${r.alias}'` : `alias of ${shortId(r.id)} removed`)
}

export async function requestsCommand (opts: CommonOptions): Promise<void> {
  const r: any[] = await callDaemon(resolveHome(opts.home), 'requests')
  print(opts, r, () => r.length === 0
    ? 'no pending pairing requests'
    : [table([{ header: 'NAME' }, { header: 'PEER ID' }, { header: 'ADDRESS', flex: true }, { header: 'RECEIVED' }],
        r.map(x => [x.alias ?? '-', idCell(opts, x.id), addrCell(opts, x.addrs[0]), ago(Date.now() - x.receivedAt)]), width(opts)),
      'to accept one, run:', ...r.map(x => `  kappa-node accept ${x.id as string}`)].join('\n'))
}

export async function peersCommand (opts: CommonOptions): Promise<void> {
  const r: any[] = await callDaemon(resolveHome(opts.home), 'peers')
  print(opts, r, () => r.length === 0
    ? 'no paired peers; pair with: kappa-node pair <invite line>'
    : table([{ header: 'ALIAS', flex: true }, { header: 'PEER ID' }, { header: 'CONNECTED' }, { header: 'ADDRESS', flex: true }],
      r.map(p => [p.alias ?? '-', idCell(opts, p.id), p.connected === true ? 'yes' : 'no', addrCell(opts, p.addrs[0])]), width(opts)))
}

export async function discoverCommand (opts: CommonOptions): Promise<void> {
  const r: any[] = await callDaemon(resolveHome(opts.home), 'discover')
  print(opts, r, () => r.length === 0
    ? 'no unpaired kappa nodes seen on the LAN'
    : [table([{ header: 'PEER ID' }, { header: 'ADDRESS', flex: true }, { header: 'SEEN' }],
        r.map(p => [idCell(opts, p.id), addrCell(opts, p.addrs[0]), ago(p.lastSeenMs)]), width(opts)),
      'to pair with one, run:', ...r.map(p => `  kappa-node pair ${(p.addrs[0] ?? p.id) as string}`)].join('\n'))
}

export async function statusCommand (opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'status')
  print(opts, r, () => {
    const lines = [`node      ${r.alias != null ? `${r.alias} ` : ''}${r.id}`]
    if (r.metric != null) {
      const m = r.metric
      lines.push(`metric    sysmetric ${num(r.sysmetric, 1)}${r.metricOverride != null ? ' (pinned)' : ''}  S ${num(m.static, 1)}  share ${num(m.share, 2)}  m ${num(m.memFactor, 2)}  D ${num(m.dynamic, 1)}`)
      const measured = Date.parse(m.benchmarkMeasuredAt)
      if (!Number.isNaN(measured)) {
        lines.push(`cpu       benchmarked ${formatAge(Date.now() - measured)}; kappa-node metric --rebench measures again`)
        // its own line: the status fits 80 columns
        if (m.benchmarkBusy === true) lines.push('          on a busy machine: it is measured again when the machine is idle')
      }
    } else if (r.benchmark?.running === true) {
      lines.push(`metric    benchmarking the CPU${r.benchmark.total != null ? ` (${r.benchmark.done as number}/${r.benchmark.total as number})` : ''}…`)
    } else if (r.sysmetric != null) {
      lines.push(`metric    sysmetric ${num(r.sysmetric, 1)}`)
    }
    if (r.sendProbe != null) lines.push(`gossip    send_probe ${num(r.sendProbe, 1)}`)
    if (r.neighbours.length === 0) {
      lines.push('neighbours  none (pair with: kappa-node pair <invite line>)')
    } else {
      lines.push('', table([{ header: 'NEIGHBOUR', flex: true }, { header: 'CONNECTED' }, { header: 'ADVERTISED', right: true }, { header: 'DISMETRIC', right: true }, { header: 'LAST SEEN' }],
        r.neighbours.map((n: any) => [opts.wide === true ? `${n.alias != null ? `${n.alias as string} ` : ''}${n.id as string}` : name(n), n.connected === true ? 'yes' : 'no', num(n.advertised, 1), num(n.dismetric, 1), ago(n.lastSeenMs)]), width(opts)))
    }
    const jobsIn = r.jobs?.in?.length ?? 0
    const jobsOut = r.jobs?.out?.length ?? 0
    lines.push('', `jobs      ${jobsIn} running here for others, ${jobsOut} sent elsewhere`)
    const sb = r.jobSandbox
    if (sb != null) {
      if (sb.mode === 'refused') lines.push(`sandbox   none working: jobs for others are refused (${sb.refusal as string})`)
      else {
        // two lines: one would pass 80 columns
        lines.push(`sandbox   ${sb.mode === 'bwrap' ? 'bubblewrap' : 'off (--no-sandbox)'}, jobs as ${sb.user as string}`)
        lines.push(`limits    memory ${formatBytes(sb.limits.memoryBytes)}, ${sb.limits.pids as number} processes per job${sb.limits.cgroups === true ? '' : ' (no cgroups)'}`)
      }
    }
    return lines.join('\n')
  })
}

export async function probeCommand (opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'probe')
  print(opts, r, () => r.local === true
    ? `run here: ${r.reason}${r.target != null ? ` (best found: ${shortId(r.target.id)} at ${num(r.target.sysmetric, 1)})` : ''}`
    : `run on ${shortId(r.target.id)} (sysmetric ${num(r.target.sysmetric, 1)}), path ${r.path.map(shortId).join(' → ')}`)
}

export async function pinCommand (value: string, opts: CommonOptions): Promise<void> {
  let parsed: number | null = null
  if (value !== 'off') {
    parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed < 0) throw new UserError(`bad metric value '${value}': a non-negative number, or off`)
  }
  const r = await callDaemon(resolveHome(opts.home), 'pin', { value: parsed })
  print(opts, r, () => r.pinned === true ? `sysmetric pinned at ${num(r.sysmetric, 1)}` : `sysmetric measured again${r.sysmetric != null ? ` (${num(r.sysmetric, 1)})` : ''}`)
}

export function parseDuration (text: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text)
  if (m == null) throw new UserError(`bad duration '${text}': use e.g. 30s, 10m, 1h`)
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h' ?? 's']
  return Number(m[1]) * unit
}
