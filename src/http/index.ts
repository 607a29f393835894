/**
 * A read-only HTTP endpoint, on localhost unless asked otherwise: Prometheus
 * `/metrics`, the status as JSON, and a live dashboard fed by server-sent
 * events (`/events`). Nothing here changes the node.
 */
import { createRequire } from 'node:module'
import type { Server, ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './dashboard.js'
import { DASHBOARD_HEARTBEAT_MS, DASHBOARD_MAX_CLIENTS, DASHBOARD_PUSH_MS } from '../constants.js'
import type { NodeMetrics } from './metrics.js'
import type { DashboardState } from './state.js'

// node:http required, not imported: an import reads every export of node:http, and
// its WebSocket getters load undici (~0.1 s of CPU at every daemon start)
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export type { DashboardState } from './state.js'
export { createNodeMetrics, type NodeMetrics, type MetricsSnapshot, type MetricsComponents } from './metrics.js'
import { hostPolicy } from './hosts.js'
import { parseHttpAddress } from './address.js'

export { hostPolicy, type HostPolicy } from './hosts.js'
export { parseHttpAddress, type HttpAddress } from './address.js'

export interface HttpComponents {
  /** the same document `kappa-node status --json` prints */
  status: () => unknown
  /** what the dashboard shows */
  state: () => DashboardState
  metrics: NodeMetrics
  /** `listener` hears that something the dashboard shows changed; returns the unsubscribe function */
  onChange: (listener: () => void) => () => void
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

/**
 * Modules the page imports: the same formatting code the CLI uses (plain
 * words for jobs, sizes, ages), compiled beside this file.
 */
const MODULES: Record<string, URL> = {
  '/js/units.js': new URL('../units.js', import.meta.url),
  '/js/names.js': new URL('../names.js', import.meta.url),
  '/js/jobs/describe.js': new URL('../jobs/describe.js', import.meta.url)
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** `host:port`; a busy port is a warning, not a reason to stop the node. */
export async function startHttp (components: HttpComponents, listen: string, init: HttpInit = {}): Promise<HttpEndpoint | undefined> {
  const { host, port } = parseHttpAddress(listen)
  const clients = new Set<ServerResponse>()
  let heartbeat: NodeJS.Timeout | undefined
  let pushTimer: NodeJS.Timeout | undefined

  const push = (): void => {
    pushTimer = undefined
    if (clients.size === 0) return
    let data: string
    try {
      data = `event: state\ndata: ${JSON.stringify(components.state())}\n\n`
    } catch (err) {
      components.log(`dashboard: cannot build its state: ${(err as Error).message}`)
      return
    }
    for (const res of clients) res.write(data)
  }
  // changes come in bursts (a job's start, its placement, a metric sample): one push for a burst
  const unsubscribe = components.onChange(() => { pushTimer ??= setTimeout(push, DASHBOARD_PUSH_MS) })

  const hosts = hostPolicy(host, init.hosts)
  const server: Server = createServer((req, res) => {
    if (!hosts.allows(req.headers.host)) {
      // DNS rebinding: a name this node does not serve is some other site's page asking
      res.writeHead(421, { 'content-type': 'text/plain' }).end(`kappa-node: this dashboard does not serve the host name ${JSON.stringify(req.headers.host ?? '')}; add it with --http-host\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end('read-only\n')
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    const send = (type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra }).end(req.method === 'HEAD' ? undefined : body)
    }
    const fail = (err: unknown): void => {
      components.log(`dashboard: ${path}: ${(err as Error).message}`)
      if (!res.headersSent) res.writeHead(500).end('internal error\n')
    }
    if (path === '/metrics') {
      components.metrics.text().then(text => { send(components.metrics.contentType, text) }, fail)
    } else if (path === '/status.json') {
      try { send('application/json', JSON.stringify(components.status())) } catch (err) { fail(err) }
    } else if (path === '/state.json') {
      try { send('application/json', JSON.stringify(components.state())) } catch (err) { fail(err) }
    } else if (path === '/') {
      send('text/html; charset=utf-8', DASHBOARD_HTML, { 'content-security-policy': CSP })
    } else if (path === '/dashboard.js') {
      send('text/javascript; charset=utf-8', DASHBOARD_SCRIPT)
    } else if (path === '/dashboard.css') {
      send('text/css; charset=utf-8', DASHBOARD_STYLE)
    } else if (Object.hasOwn(MODULES, path)) {
      readFile(MODULES[path]).then(body => { send('text/javascript; charset=utf-8', body) }, fail)
    } else if (path === '/favicon.ico') {
      res.writeHead(204).end()
    } else if (path === '/events' && req.method === 'GET') {
      if (clients.size >= DASHBOARD_MAX_CLIENTS) {
        res.writeHead(503, { 'retry-after': '10' }).end('too many dashboards open\n')
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
      res.write(`retry: ${DASHBOARD_HEARTBEAT_MS}\n\n`)
      clients.add(res)
      res.on('close', () => {
        clients.delete(res)
        if (clients.size === 0 && heartbeat != null) { clearInterval(heartbeat); heartbeat = undefined }
      })
      // ages and "last heard" move on even when nothing happens; the page also learns the node is alive
      heartbeat ??= setInterval(push, DASHBOARD_HEARTBEAT_MS)
      push()
    } else {
      res.writeHead(404).end('not found\n')
    }
  })
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      components.log(`dashboard not started: ${host}:${port} ${err.code === 'EADDRINUSE' ? 'is in use (another node? use --http HOST:PORT)' : err.message}`)
      resolve(false)
    })
    server.listen(port, host, () => { resolve(true) })
  })
  if (!ok) {
    unsubscribe()
    return undefined
  }
  const bound = server.address()
  const address = typeof bound === 'object' && bound != null ? (bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`) : listen
  return {
    address,
    async close () {
      unsubscribe()
      if (heartbeat != null) clearInterval(heartbeat)
      if (pushTimer != null) clearTimeout(pushTimer)
      for (const res of clients) res.end()
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
