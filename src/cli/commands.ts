/**
 * Client-side subcommands: each is one call on the daemon's control socket,
 * printed for people or, with --json, as one JSON document.
 */
import { callDaemon } from '../control/client.js'
import { resolveHome } from '../home/index.js'
import { UserError } from '../errors.js'
import { label, shortId } from '../names.js'

export interface CommonOptions { home?: string, json?: boolean }

function print (opts: CommonOptions, data: unknown, human: () => string): void {
  process.stdout.write(opts.json === true ? JSON.stringify(data, null, 2) + '\n' : human() + '\n')
}

function name (p: { id: string, alias?: string | null }): string {
  return label(p.id, p.alias)
}

function table (rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ')).join('\n')
}

function ago (ms: number | null | undefined): string {
  if (ms == null) return '-'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`
  return `${Math.round(ms / 60_000)}m`
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
    : table([['PEER', 'ADDRESS', 'AGE'], ...r.map(x => [name(x), x.addrs[0] ?? '-', ago(Date.now() - x.receivedAt)])]) + '\naccept one with: kappa-node accept <peer id>')
}

export async function peersCommand (opts: CommonOptions): Promise<void> {
  const r: any[] = await callDaemon(resolveHome(opts.home), 'peers')
  print(opts, r, () => r.length === 0
    ? 'no paired peers; pair with: kappa-node pair <invite line>'
    : table([['ALIAS', 'PEER ID', 'CONNECTED', 'ADDRESS'], ...r.map(p => [p.alias ?? '-', p.id, p.connected === true ? 'yes' : 'no', p.addrs[0] ?? '-'])]))
}

export async function discoverCommand (opts: CommonOptions): Promise<void> {
  const r: any[] = await callDaemon(resolveHome(opts.home), 'discover')
  print(opts, r, () => r.length === 0
    ? 'no unpaired kappa nodes seen on the LAN'
    : table([['PEER ID', 'SEEN', 'PAIR WITH'], ...r.map(p => [p.id, `${ago(p.lastSeenMs)} ago`, `kappa-node pair ${p.addrs[0] ?? ''}`])]))
}

export async function statusCommand (opts: CommonOptions): Promise<void> {
  const r = await callDaemon(resolveHome(opts.home), 'status')
  print(opts, r, () => {
    const lines = [`node      ${r.alias != null ? `${r.alias} ` : ''}${r.id}`]
    if (r.metric != null) {
      const m = r.metric
      lines.push(`metric    sysmetric ${num(r.sysmetric, 1)}${r.metricOverride != null ? ' (pinned)' : ''}  S ${num(m.static, 1)}  share ${num(m.share, 2)}  m ${num(m.memFactor, 2)}  D ${num(m.dynamic, 1)}`)
    } else if (r.sysmetric != null) {
      lines.push(`metric    sysmetric ${num(r.sysmetric, 1)}`)
    }
    if (r.sendProbe != null) lines.push(`gossip    send_probe ${num(r.sendProbe, 1)}`)
    if (r.neighbours.length === 0) {
      lines.push('neighbours  none (pair with: kappa-node pair <invite line>)')
    } else {
      lines.push('', table([['NEIGHBOUR', 'CONNECTED', 'ADVERTISED', 'DISMETRIC', 'LAST SEEN'],
        ...r.neighbours.map((n: any) => [name(n), n.connected === true ? 'yes' : 'no', num(n.advertised, 1), num(n.dismetric, 1), n.lastSeenMs == null ? '-' : `${ago(n.lastSeenMs)} ago`])]))
    }
    const jobsIn = r.jobs?.in?.length ?? 0
    const jobsOut = r.jobs?.out?.length ?? 0
    lines.push('', `jobs      ${jobsIn} running here for others, ${jobsOut} sent elsewhere`)
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
