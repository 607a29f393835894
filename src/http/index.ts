/**
 * A read-only HTTP endpoint on localhost: Prometheus `/metrics`, the status
 * as JSON, and a small live dashboard (the node, its neighbours as a graph,
 * its metric and jobs). Nothing here changes the node.
 */
import { createServer, type Server } from 'node:http'
import { DASHBOARD_HTML } from './dashboard.js'
import { hostPolicy } from './hosts.js'

export { hostPolicy, type HostPolicy } from './hosts.js'

export interface HttpComponents {
  /** the same document `kappa-node status --json` prints */
  status: () => Promise<any>
  log: (line: string) => void
}

export interface HttpInit {
  /** names besides the bound address and localhost that the dashboard answers to (`--http-host`) */
  hosts?: string[]
}

export interface HttpEndpoint {
  readonly address: string
  close (): Promise<void>
}

/** `host:port`; a busy port is a warning, not a reason to stop the node. */
export async function startHttp (components: HttpComponents, listen: string, init: HttpInit = {}): Promise<HttpEndpoint | undefined> {
  const at = listen.lastIndexOf(':')
  const host = at > 0 ? listen.slice(0, at) : '127.0.0.1'
  const port = Number(at > 0 ? listen.slice(at + 1) : listen)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --http address '${listen}': use host:port, e.g. 127.0.0.1:4748`)
  const hosts = hostPolicy(host, init.hosts)
  const server: Server = createServer((req, res) => {
    if (!hosts.allows(req.headers.host)) {
      // DNS rebinding: a name this node does not serve is some other site's page asking
      res.writeHead(421, { 'content-type': 'text/plain' }).end(`kappa-node: this dashboard does not serve the host name ${JSON.stringify(req.headers.host ?? '')}; add it with --http-host\n`)
      return
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end('read-only\n')
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    components.status().then((status) => {
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheus(status))
      } else if (path === '/status.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(status))
      } else if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" }).end(DASHBOARD_HTML)
      } else {
        res.writeHead(404).end('not found\n')
      }
    }, (err) => { res.writeHead(500).end(`${String(err?.message ?? err)}\n`) })
  })
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      components.log(`dashboard not started: ${host}:${port} ${err.code === 'EADDRINUSE' ? 'is in use (another node? use --http HOST:PORT)' : err.message}`)
      resolve(false)
    })
    server.listen(port, host, () => { resolve(true) })
  })
  if (!ok) return undefined
  const bound = server.address()
  const address = typeof bound === 'object' && bound != null ? `${bound.address}:${bound.port}` : listen
  return {
    address,
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

/** Prometheus text exposition of the status document. */
export function prometheus (s: any): string {
  const lines: string[] = []
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: Array<[Record<string, string>, number | null | undefined]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      if (value == null || !Number.isFinite(value)) continue
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',')
      lines.push(`${name}${l === '' ? '' : `{${l}}`} ${value}`)
    }
  }
  metric('kappa_sysmetric', 'This node\'s system metric (bigger is faster).', 'gauge', [[{}, s.sysmetric]])
  metric('kappa_send_probe', 'The value this node gossips (Algorithm I send_probe).', 'gauge', [[{}, s.sendProbe]])
  metric('kappa_static_score', 'Static score S from the CPU benchmark.', 'gauge', [[{}, s.metric?.static]])
  metric('kappa_cpu_share', 'CPU share a new process would get.', 'gauge', [[{}, s.metric?.share]])
  metric('kappa_memory_factor', 'Memory factor m.', 'gauge', [[{}, s.metric?.memFactor]])
  metric('kappa_pending_jobs', 'Jobs promised or just started, counted in the metric.', 'gauge', [[{}, s.metric?.pending]])
  const peer = (n: any): Record<string, string> => ({ peer: n.id, alias: n.alias ?? '' })
  metric('kappa_neighbour_dismetric', 'A neighbour\'s distribution metric as seen here.', 'gauge', s.neighbours.map((n: any) => [peer(n), n.dismetric]))
  metric('kappa_neighbour_live', 'Whether a neighbour gossiped within 3 delays.', 'gauge', s.neighbours.map((n: any) => [peer(n), n.live === true ? 1 : 0]))
  metric('kappa_neighbour_connected', 'Whether a neighbour is connected.', 'gauge', s.neighbours.map((n: any) => [peer(n), n.connected === true ? 1 : 0]))
  metric('kappa_jobs_running', 'Jobs running now, in (for others) and out (elsewhere).', 'gauge', [[{ direction: 'in' }, s.jobs?.in?.length], [{ direction: 'out' }, s.jobs?.out?.length]])
  const c = s.jobs?.counters ?? {}
  metric('kappa_jobs_total', 'Jobs run here for others (in) and sent elsewhere (out).', 'counter', [[{ direction: 'in' }, c.jobsIn], [{ direction: 'out' }, c.jobsOut]])
  metric('kappa_jobs_refused_total', 'Jobs refused here.', 'counter', [[{}, c.refused]])
  metric('kappa_executable_bytes_total', 'Executable bytes sent and received (repeats come from the cache).', 'counter', [[{ direction: 'sent' }, c.exeBytesSent], [{ direction: 'received' }, c.exeBytesReceived]])
  return lines.join('\n') + '\n'
}
