import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ensureHome, homeFile, tightenHome } from '../home/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { TrustStore, checkAlias } from '../trust/index.js'
import { createAccess, sourceOf, type Access } from '../access/index.js'
import { InviteBook, formatInvite, createPairing, type Pairing } from '../pairing/index.js'
import { Nearby } from '../discovery/index.js'
import { startControlServer, type ControlMethod, type ControlServer } from '../control/index.js'
import { createKappaLibp2p, type KappaLibp2p } from './node.js'
import { createEventLog } from './log.js'
import { Reconnector } from './reconnect.js'
import { TicketBook } from '../tickets/index.js'
import { createOverlay, type Overlay } from '../overlay/index.js'
import { machineMeets } from '../host/requirements.js'
import { createMetricSampler, PENDING_TICKET_MS, type MetricSampler } from '../metric/index.js'
import { createMigration, type Migration } from '../migrate/index.js'
import { findBubblewrap } from '../migrate/sandbox.js'
import { UserError, errorMessage } from '../errors.js'
import { startHttp, type HttpEndpoint } from '../http/index.js'
import { DEFAULT_HTTP, DEFAULT_PORT, INVITE_TTL_MS, LOCAL_START_GRACE_MS, MDNS_INTERVAL_MS, STRANGER_GRACE_MS, METRIC_SETTLE_MS } from '../constants.js'
import { createBulkListener, tcpHost, type BulkListener } from '../bulk/index.js'
import type { DaemonEvents } from '../events.js'

export type { DaemonEvent, DaemonEvents } from '../events.js'

export interface DaemonInit {
  home: string
  listen?: string[]
  alias?: string
  mdns?: boolean
  mdnsIntervalMs?: number
  mdnsPort?: number
  acceptPairRequests?: boolean
  /** print events as JSON lines */
  json?: boolean
  /** gossip period (Algorithm I), default 5 s */
  delayMs?: number
  /** pin the advertised sysmetric instead of measuring it */
  metricOverride?: number
  splitHorizon?: boolean
  /** proc root the metric reads (tests) */
  procRoot?: string
  /** jobs run here at once for others */
  maxJobs?: number
  /** wall-time limit of a job run here */
  jobWallMs?: number
  /** address-space limit of a job run here */
  jobMemoryBytes?: number
  /** jobs run here may use the network */
  allowNetwork?: boolean
  /** run jobs for others without bubblewrap even where it is installed */
  noSandbox?: boolean
  /** life of a migration ticket (tests shorten it) */
  ticketTtlMs?: number
  /** per-hop overhead constant c of the distribution metric (default 15, the paper's) */
  hopCost?: number
  /** count promised and just-started jobs in the metric (default true; off for experiments) */
  pendingAccounting?: boolean
  /** read-only dashboard and Prometheus /metrics, host:port (default 127.0.0.1:4748); false for none */
  http?: string | false
  /** names besides the bound address and localhost the dashboard answers to */
  httpHosts?: string[]
  /** port of the bulk connections (src/bulk) on the first --listen address; 0 any free port (default); false for none */
  bulkPort?: number | false
}

export interface Daemon {
  readonly libp2p: KappaLibp2p
  readonly trust: TrustStore
  readonly access: Access
  readonly pairing: Pairing
  readonly overlay: Overlay
  readonly tickets: TicketBook
  readonly sampler: MetricSampler
  readonly migration: Migration
  readonly events: DaemonEvents
  readonly home: string
  /** the dashboard's URL, if it runs */
  readonly dashboard?: string
  invite (ttlMs?: number): { invite: string, expiresAt: number }
  stop (): Promise<void>
}

/**
 * The foreground daemon: identity, trust store, libp2p node, pairing, LAN
 * discovery and the control socket, wired together. Everything else the CLI
 * does goes through the control socket to this process.
 */
export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const home = await ensureHome(init.home)
  const tightened = await tightenHome(home)
  if (init.alias != null) checkAlias(init.alias)
  const listen = init.listen != null && init.listen.length > 0 ? init.listen : [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`]
  for (const a of listen) {
    try { multiaddr(a) } catch (err: any) { throw new UserError(`bad --listen address '${a}': ${err.message}`) }
  }
  const identity = await loadOrCreateIdentity(home)
  const trust = await TrustStore.load(homeFile(home, 'trust'))
  const events = createEventLog(init.json === true)
  for (const line of tightened) events.emit({ type: 'warning', message: line })
  const invites = new InviteBook()
  const acceptPairRequests = init.acceptPairRequests ?? true
  const mdnsIntervalMs = init.mdnsIntervalMs ?? MDNS_INTERVAL_MS

  // the metric: measured (benchmark once per boot, then /proc every 5 s) unless pinned
  let metricOverride = init.metricOverride
  let overlayRef: Overlay | undefined
  const sampler = createMetricSampler({
    cacheFile: homeFile(home, 'benchmark'),
    procRoot: init.procRoot,
    log: (line) => { events.emit({ type: 'info', message: line }) },
    // the benchmark is the one slow thing at start-up: say so once, the sampler logs the result
    onSample: () => { overlayRef?.changed() },
    onProgress: (p) => { if (p.done === 1) events.emit({ type: 'info', message: `metric: benchmarking the CPU (${p.total} kernel runs, first start since boot, under 2 s)…` }) }
  })
  let samplerStarted = false
  const startSampler = (): void => {
    if (samplerStarted) return
    samplerStarted = true
    sampler.start().catch((err) => { events.emit({ type: 'warning', message: `metric: ${String(err.message).replace(/^metric: /, '')}` }) })
  }
  const ownMetric = (): number | undefined => metricOverride ?? sampler.fresh()?.sysmetric
  // pending-work accounting: an issued ticket counts as a running job until used, or until it
  // is clear that the origin dropped the offer. A job that may have started counts until a
  // reading of the runnable processes shows it (src/metric/pending.ts).
  const accounting = init.pendingAccounting !== false
  // `startsBy`: when the job has surely started; it counts at most METRIC_SETTLE_MS longer
  const countUntilSampled = (id: string, startsBy = Date.now()): void => { if (accounting) sampler.pending.add(id, Math.max(startsBy, Date.now()) + METRIC_SETTLE_MS, Date.now()) }
  const tickets = new TicketBook({
    ttlMs: init.ticketTtlMs,
    onIssue: (t) => { if (accounting) sampler.pending.add(t.id, Math.min(t.expiresAt, Date.now() + PENDING_TICKET_MS)) },
    onSettle: (t, how) => { if (how === 'used') countUntilSampled(t.id); else sampler.pending.consume(t.id) }
  })

  let libp2pRef: KappaLibp2p | undefined
  const access = createAccess({
    trust,
    holdsTicket: (peer) => tickets.holds(peer),
    outstandingInvites: () => invites.outstanding(),
    strangerConnections: (source) => (libp2pRef?.getConnections() ?? []).filter(c => !access.isKnown(c.remotePeer) && (source == null || sourceOf(c.remoteAddr) === source)).length,
    log: (line) => { events.emit({ type: 'info', message: line }) }
  }, { acceptPairRequests })

  let libp2p: KappaLibp2p
  try {
    libp2p = await createKappaLibp2p({
      privateKey: identity.privateKey,
      listen,
      gater: access.gater,
      mdns: init.mdns === false ? undefined : { intervalMs: mdnsIntervalMs, port: init.mdnsPort }
    })
  } catch (err: any) {
    if (/EADDRINUSE/.test(err.message)) throw new UserError(`cannot listen on ${listen.join(', ')}: address already in use (another kappa-node? use --listen)`)
    throw err
  }
  libp2pRef = libp2p

  const pairing = createPairing({ libp2p, trust, invites, access, events }, { alias: init.alias, acceptPairRequests })
  await pairing.start()
  const nearby = new Nearby({ libp2p, trust, events }, { intervalMs: mdnsIntervalMs })
  nearby.start()
  const reconnector = new Reconnector({ libp2p, trust })
  let migrationRef: Migration | undefined
  const overlay = createOverlay({
    libp2p,
    trust,
    access,
    events,
    tickets,
    privateKey: identity.privateKey,
    ownMetric,
    // a node offers itself only if it could run the job: architecture, interpreter, memory, a free job slot
    meets: (r) => machineMeets(r, sampler.current()?.memAvailableKiB) && migrationRef?.hasFreeSlot() !== false,
    busy: () => migrationRef?.busy()
  }, { delayMs: init.delayMs, splitHorizon: init.splitHorizon, c: init.hopCost })
  await overlay.start()
  overlayRef = overlay
  if (metricOverride == null) startSampler()
  const bwrap = init.noSandbox === true ? undefined : findBubblewrap()
  if (bwrap == null) events.emit({ type: 'warning', message: init.noSandbox === true ? 'jobs for others run unsandboxed (--no-sandbox)' : 'bubblewrap (bwrap) not found: jobs for others run unsandboxed; install the bubblewrap package' })
  let bulk: BulkListener | undefined
  // the bulk port listens beside libp2p, on the host of the first TCP --listen address
  if (init.bulkPort !== false) {
    const host = listen.map(a => tcpHost(multiaddr(a))).find(h => h != null)
    if (host != null) {
      try {
        bulk = await createBulkListener({ host, port: init.bulkPort ?? 0, log: (message) => { events.emit({ type: 'warning', message }) } })
      } catch (err) {
        // a busy --bulk-port costs speed, not function: big jobs stay on their streams
        events.emit({ type: 'warning', message: `no bulk port on ${host}:${init.bulkPort ?? 0} (${errorMessage(err)}): big jobs use their libp2p streams only` })
      }
    }
  }
  let localJobs = 0
  const migration = createMigration({
    libp2p,
    trust,
    access,
    tickets,
    overlay,
    events,
    home,
    bulk,
    // a job the client runs here counts at once, like a ticket, so a burst does not all stay here
    // the client starts a local job itself, a moment later (longer on a loaded machine)
    onLocalPlacement: () => { countUntilSampled(`local-${++localJobs}`, Date.now() + LOCAL_START_GRACE_MS) }
  }, {
    maxJobs: init.maxJobs,
    wallMs: init.jobWallMs,
    memoryBytes: init.jobMemoryBytes,
    allowNetwork: init.allowNetwork,
    bwrap
  })
  await migration.start()
  migrationRef = migration

  // connection events for paired peers; a stranger's idle connection is closed
  libp2p.addEventListener('peer:connect', (evt) => {
    const id = evt.detail.toString()
    const peer = trust.get(id)
    if (peer != null) events.emit({ type: 'connected', id, alias: peer.alias })
  })
  libp2p.addEventListener('peer:disconnect', (evt) => {
    const id = evt.detail.toString()
    const peer = trust.get(id)
    if (peer != null) events.emit({ type: 'disconnected', id, alias: peer.alias })
  })
  libp2p.addEventListener('connection:open', (evt) => {
    const connection = evt.detail
    if (access.isKnown(connection.remotePeer)) return
    setTimeout(() => {
      if (!access.isKnown(connection.remotePeer) && connection.status === 'open') void connection.close().catch(() => {})
    }, STRANGER_GRACE_MS).unref()
  })

  const invite = (ttlMs = INVITE_TTL_MS): { invite: string, expiresAt: number } => {
    const { token, expiresAt } = invites.create(ttlMs)
    return { invite: formatInvite(token, inviteAddrs(libp2p.getMultiaddrs())), expiresAt }
  }

  const peersView = (): unknown[] => trust.list().map(p => ({
    id: p.id,
    alias: p.alias ?? null,
    addrs: p.addrs,
    connected: libp2p.getConnections(peerIdFromString(p.id)).length > 0
  }))

  /** what `status` prints, the dashboard shows and /metrics exports */
  const statusDocument = (): unknown => {
    const o = overlay.status()
    return {
      id: libp2p.peerId.toString(),
      alias: init.alias ?? null,
      addrs: libp2p.getMultiaddrs().map(String),
      sysmetric: o.sysmetric,
      sendProbe: o.sendProbe,
      metricOverride: metricOverride ?? null,
      metric: sampler.current() ?? null,
      gossip: { delayMs: o.delayMs, c: o.c, splitHorizon: o.splitHorizon },
      neighbours: o.neighbours,
      jobs: migration.jobs(),
      sandbox: bwrap != null ? 'bwrap' : 'none',
      bulkPort: bulk?.port ?? null
    }
  }

  const methods: Record<string, ControlMethod> = {
    id: async () => ({ id: libp2p.peerId.toString(), alias: init.alias ?? null, addrs: libp2p.getMultiaddrs().map(String) }),
    peers: async () => peersView(),
    status: async () => statusDocument(),
    probe: async () => {
      const outcome = await overlay.probe()
      if (outcome.local) return outcome
      // the ticket is for a migration; `kappa-node probe` only shows the answer
      const { ticket, ...shown } = outcome
      return { ...shown, ticketBytes: ticket.length }
    },
    pin: async (params) => {
      const value = params.value
      if (value === null || value === 'off') {
        metricOverride = undefined
        startSampler()
      } else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
        metricOverride = value
        overlay.changed()
      } else {
        throw new UserError(`bad metric value '${String(value)}': a non-negative number, or off`)
      }
      return { sysmetric: ownMetric() ?? null, pinned: metricOverride != null }
    },
    invite: async (params) => invite(typeof params.ttlMs === 'number' && params.ttlMs > 0 ? params.ttlMs : undefined),
    pair: async (params) => await pairing.pair(String(params.target ?? ''), optionalString(params.alias)),
    accept: async (params) => await pairing.accept(String(params.peer ?? ''), optionalString(params.alias)),
    unpair: async (params) => await pairing.unpair(String(params.peer ?? '')),
    requests: async () => pairing.requests(),
    discover: async () => nearby.list(),
    alias: async (params) => {
      const peer = trust.find(String(params.peer ?? ''))
      if (peer == null) throw new UserError(`not paired with '${String(params.peer)}'; see kappa-node peers`)
      const alias = optionalString(params.alias)
      if (alias != null) trust.checkFreeAlias(alias, peer.id)
      await trust.update(peer.id, { alias })
      return { id: peer.id, alias: alias ?? null }
    }
  }

  let control: ControlServer
  try {
    control = await startControlServer({
      path: homeFile(home, 'control'),
      methods,
      streaming: { run: async (params, socket, rest) => { await migration.serveRun(params, socket, rest) } },
      log: (line) => { events.emit({ type: 'warning', message: line }) }
    })
  } catch (err) {
    await libp2p.stop()
    throw err
  }
  reconnector.start()
  let http: HttpEndpoint | undefined
  if (init.http !== false) {
    http = await startHttp({ status: async () => statusDocument(), log: (line) => { events.emit({ type: 'warning', message: line }) } }, init.http ?? DEFAULT_HTTP, { hosts: init.httpHosts })
  }

  events.emit({
    type: 'ready',
    id: libp2p.peerId.toString(),
    addrs: libp2p.getMultiaddrs().map(String),
    alias: init.alias,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined
  })

  let stopped = false
  return {
    libp2p,
    trust,
    access,
    pairing,
    overlay,
    tickets,
    sampler,
    migration,
    events,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined,
    invite,
    async stop () {
      if (stopped) return
      stopped = true
      reconnector.stop()
      await http?.close()
      sampler.stop()
      await migration.stop().catch(() => {})
      await bulk?.close().catch(() => {})
      await overlay.stop().catch(() => {})
      await control.close()
      await pairing.stop().catch(() => {})
      await libp2p.stop()
    }
  }
}

function optionalString (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Addresses worth putting in an invite: LAN before loopback, a few at most. */
function inviteAddrs (addrs: Multiaddr[]): Multiaddr[] {
  const loopback = (a: Multiaddr): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a.toString())
  return [...addrs.filter(a => !loopback(a)), ...addrs.filter(loopback)].slice(0, 4)
}
