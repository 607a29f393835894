import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr } from '@multiformats/multiaddr'
import { ensureHome, homeFile, tightenHome } from '../home/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { TrustStore } from '../trust/index.js'
import { createAccess, sourceOf, type Access } from '../access/index.js'
import { InviteBook, formatInvite, createPairing, type Pairing } from '../pairing/index.js'
import { Nearby } from '../discovery/index.js'
import { startControlServer, removeStaleSocket, type ControlMethod } from '../control/index.js'
import { createKappaLibp2p, type KappaLibp2p } from './node.js'
import { createEventLog, type EventLog } from './log.js'
import { createJobs, type Jobs } from '../jobs/index.js'
import { createNodeMetrics } from '../http/index.js'
import { dashboardState, metricsSnapshot, timedOverlay, type ViewSources } from './views.js'
import { Reconnector } from './reconnect.js'
import { LocalHint } from './hint.js'
import { TicketBook } from '../tickets/index.js'
import { createOverlay, type Overlay } from '../overlay/index.js'
import { machineMeets } from '../host/requirements.js'
import type { MetricSampler } from '../metric/index.js'
import { createMetricPart, type MetricPart } from './metric-part.js'
import type { PrivateKey } from '@libp2p/interface'
import { createMigration, type Migration, type MigrationComponents, type MigrationInit } from '../migrate/index.js'
import { errorMessage } from '../errors.js'
import { debugLogger, logged } from '../debug.js'
import { ServiceStack, startAll } from './services.js'
import { checkDaemonOptions, checkListenable, libp2pStartError, type DaemonSettings } from './settings.js'
import { controlMethods, followJobs, pairedPeers, statusDocument, type MethodComponents } from './methods.js'
import { startHttp, type HttpEndpoint } from '../http/index.js'
import { INVITE_TTL_MS, LOCAL_START_GRACE_MS, MDNS_INTERVAL_MS, STRANGER_GRACE_MS } from '../constants.js'
import { createBulkListener, type BulkListener } from '../bulk/index.js'
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
  /** memory limit of a job run here (its /tmp included) */
  jobMemoryBytes?: number
  /** process limit of a job run here, and the rest of the job sandbox's settings (bubblewrap's path, job directories, disk floor) */
  jobLimits?: Pick<MigrationInit, 'pids' | 'bwrap' | 'jobsDir' | 'diskFloorBytes'>
  /** jobs run here may use the network */
  allowNetwork?: boolean
  /** run jobs for others without bubblewrap even where it is installed */
  noSandbox?: boolean
  /** life of a migration ticket (tests shorten it) */
  ticketTtlMs?: number
  /** per-hop overhead constant c of the distribution metric (default DEFAULT_C, 0; the paper's is 15) */
  hopCost?: number
  /** count promised and just-started jobs in the metric (default true; off for experiments) */
  pendingAccounting?: boolean
  /** a metric sample every this many ms (default the sampler's 5 s; tests lengthen it) */
  metricIntervalMs?: number
  /** read-only dashboard and Prometheus /metrics, host:port (default 127.0.0.1:4748); false for none */
  http?: string | false
  /** names besides the bound address and localhost the dashboard answers to */
  httpHosts?: string[]
  /** port of the bulk connections (src/bulk) on the first --listen address; 0 any free port (default); false for none */
  bulkPort?: number | false
  /** the CPU benchmark's progress (the first start since boot takes a few seconds): `start` draws it on a terminal */
  onBenchmarkProgress?: (p: { done: number, total: number } | undefined) => void
  /** where the log goes (default stdout) */
  logTo?: NodeJS.WritableStream
  /** workspace and liveness settings of migrations (store size, job view, heartbeat, liveness deadline, clock) */
  migration?: Pick<MigrationInit, 'storeBytes' | 'view' | 'heartbeatMs' | 'livenessMs' | 'clock'>
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
  /** the event log itself: lines can be held while a question is on screen */
  readonly log: EventLog
  readonly jobs: Jobs
  readonly nearby: Nearby
  readonly home: string
  /** the dashboard's URL, if it runs */
  readonly dashboard?: string
  invite (ttlMs?: number): { invite: string, expiresAt: number }
  /** measure the CPU again (SIGHUP, `kappa-node metric --rebench`) */
  rebench (): Promise<unknown>
  stop (): Promise<void>
}

/**
 * The foreground daemon: identity, trust store, libp2p node, pairing, LAN
 * discovery, gossip, migration and the control socket. Options are checked
 * before anything starts; the parts then start in order (each gets the
 * narrow components it uses) and stop in reverse, and when one fails to
 * start, the ones that did are stopped before the error goes up.
 */
export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const settings = checkDaemonOptions(init)
  const home = await ensureHome(init.home)
  // before any work: a home can hold one daemon, a port one listener
  await removeStaleSocket(homeFile(home, 'control'))
  await checkListenable(settings.listen)
  const stack = new ServiceStack(debugLogger('daemon'))
  return await startAll(stack, async () => await startParts(init, settings, home, stack))
}

async function startParts (init: DaemonInit, settings: DaemonSettings, home: string, stack: ServiceStack): Promise<Daemon> {
  const tightened = await tightenHome(home)
  const identity = await loadOrCreateIdentity(home)
  const trust = await TrustStore.load(homeFile(home, 'trust'))
  const events = createEventLog({ json: init.json === true, out: init.logTo })
  const jobs = await stack.start('jobs', async () => {
    const j = createJobs({ events, file: homeFile(home, 'jobLog'), log: (line) => { events.emit({ type: 'warning', message: line }) } })
    await j.start()
    return j
  }, async (j) => { await j.stop() })
  for (const line of tightened) events.emit({ type: 'warning', message: line })
  // late-bound: parts started earlier call parts started later (a sample gossips, a probe asks the job slots)
  const late: LateParts = {}
  const changed = new Set<() => void>()
  const notifyChanged = (): void => { for (const l of changed) l() }
  // the metric: measured (benchmark once per boot, then /proc every 5 s) unless pinned
  const metric = createMetricPart({
    events,
    onChange: () => { late.overlay?.changed(); late.hint?.publish(); notifyChanged() },
    // jobs wrapped commands started here on the placement hint count before any decision reads the metric
    beforeRead: () => { late.hint?.sweep() }
  }, { home, procRoot: init.procRoot, metricOverride: init.metricOverride, pendingAccounting: init.pendingAccounting, intervalMs: init.metricIntervalMs, ticketTtlMs: init.ticketTtlMs, onBenchmarkProgress: init.onBenchmarkProgress })
  stack.defer('metric sampler', () => { metric.stop() })
  const { sampler, tickets } = metric

  const { libp2p, access, invites, pairing, nearby, overlay } = await startNetwork(stack, init, settings, { identity, trust, events, metric, late })
  late.overlay = overlay
  const connected = (id: string): boolean => libp2p.getConnections(peerIdFromString(id)).length > 0
  const self = (): { id: string, alias: string | null, addrs: string[] } => ({ id: libp2p.peerId.toString(), alias: init.alias ?? null, addrs: libp2p.getMultiaddrs().map(String) })
  const views: ViewSources = {
    self,
    overlay,
    sampler,
    metricOverride: metric.pinned,
    benchmarkProgress: metric.benchmarkProgress,
    jobs,
    requests: () => pairing.requests(),
    lan: () => nearby.list(),
    paired: () => pairedPeers({ trust, connected })
  }
  const metrics = createNodeMetrics({ snapshot: () => metricsSnapshot(views), running: () => jobs.running() })
  stack.defer('job updates', jobs.subscribe((u) => {
    if (u.type === 'job-ended') metrics.jobEnded(u.job)
    notifyChanged()
  }))
  stack.defer('event updates', events.subscribe(() => { notifyChanged() }))
  // every probe (a job's placement, `kappa-node probe`) is timed into /metrics
  const probing = timedOverlay(overlay, metrics)
  metric.start()
  const { bulk, migration, hint } = await startMigration(stack, init, settings, { libp2p, trust, access, events, metric, overlay, probing, home })
  late.migration = migration

  watchConnections(libp2p, { trust, access, events })

  const invite = (ttlMs = INVITE_TTL_MS): { invite: string, expiresAt: number } => {
    const { token, expiresAt } = invites.create(ttlMs)
    return { invite: formatInvite(token, inviteAddrs(libp2p.getMultiaddrs())), expiresAt }
  }

  const methodComponents: MethodComponents = {
    self,
    trust,
    connected,
    overlay: { status: () => overlay.status(), probe: async () => await probing.probe() },
    sampler,
    migration,
    jobs,
    pairing,
    nearby,
    metric,
    invite,
    sandbox: () => migration.sandbox(),
    hint: () => late.hint?.view() ?? null,
    bulkPort: () => bulk?.port ?? null
  }

  await stack.start('control socket', async () => await startControlServer({
    path: homeFile(home, 'control'),
    methods: controlMethods(methodComponents) as unknown as Record<string, ControlMethod>,
    streaming: {
      run: async (params, socket, rest) => { await migration.serveRun(params, socket, rest) },
      'jobs-follow': async (_params, socket) => { await followJobs(jobs, socket) }
    },
    log: (line) => { events.emit({ type: 'warning', message: line }) }
  }), async (control) => { await control.close() })
  await stack.start('reconnector', () => {
    const r = new Reconnector({ libp2p, trust })
    r.start()
    return r
  }, (r) => { r.stop() })
  // published once the control socket answers: a shim without a free slot asks the daemon
  await stack.start('placement hint', () => { hint.start(); return hint }, (h) => { h.stop() })
  late.hint = hint
  let http: HttpEndpoint | undefined
  const httpAddress = settings.http
  if (httpAddress != null) {
    http = await stack.start('dashboard', async () => await startHttp({
      status: () => statusDocument(methodComponents),
      state: () => dashboardState(views),
      metrics,
      onChange: (listener) => { changed.add(listener); return () => { changed.delete(listener) } },
      log: (line) => { events.emit({ type: 'warning', message: line }) }
    }, `${httpAddress.host.includes(':') ? `[${httpAddress.host}]` : httpAddress.host}:${httpAddress.port}`, { hosts: init.httpHosts }), async (h) => { await h?.close() })
  }

  events.emit({
    type: 'ready',
    id: libp2p.peerId.toString(),
    addrs: libp2p.getMultiaddrs().map(String),
    alias: init.alias,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined
  })

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
    log: events,
    jobs,
    nearby,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined,
    invite,
    rebench: metric.rebench,
    async stop () { await stack.stop() }
  }
}

/** Parts that parts started before them call into, set once they start. */
interface LateParts {
  overlay?: Overlay
  migration?: Migration
  hint?: LocalHint
}

interface NetworkParts {
  libp2p: KappaLibp2p
  access: Access
  invites: InviteBook
  pairing: Pairing
  nearby: Nearby
  overlay: Overlay
}

/** libp2p behind the access gater, then pairing, LAN discovery and the overlay (gossip and probes). */
async function startNetwork (stack: ServiceStack, init: DaemonInit, settings: DaemonSettings, c: { identity: { privateKey: PrivateKey }, trust: TrustStore, events: DaemonEvents, metric: MetricPart, late: LateParts }): Promise<NetworkParts> {
  const { identity, trust, events, metric, late } = c
  const invites = new InviteBook()
  const acceptPairRequests = init.acceptPairRequests ?? true
  const mdnsIntervalMs = init.mdnsIntervalMs ?? MDNS_INTERVAL_MS
  let libp2pRef: KappaLibp2p | undefined
  const access = createAccess({
    trust,
    holdsTicket: (peer) => metric.tickets.holds(peer),
    outstandingInvites: () => invites.outstanding(),
    strangerConnections: (source) => (libp2pRef?.getConnections() ?? []).filter(c => !access.isKnown(c.remotePeer) && (source == null || sourceOf(c.remoteAddr) === source)).length,
    log: (line) => { events.emit({ type: 'info', message: line }) }
  }, { acceptPairRequests })

  const libp2p = await stack.start('libp2p', async () => {
    try {
      return await createKappaLibp2p({
        privateKey: identity.privateKey,
        listen: settings.listen,
        gater: access.gater,
        mdns: init.mdns === false ? undefined : { intervalMs: mdnsIntervalMs, port: init.mdnsPort }
      })
    } catch (err) {
      throw libp2pStartError(err, settings.listen)
    }
  }, async (node) => { await node.stop() })
  libp2pRef = libp2p

  const pairing = await stack.start('pairing', async () => {
    const p = createPairing({ libp2p, trust, invites, access, events }, { alias: init.alias, acceptPairRequests })
    await p.start()
    return p
  }, async (p) => { await p.stop() })
  const nearby = await stack.start('lan discovery', () => {
    const n = new Nearby({ libp2p, trust, events }, { intervalMs: mdnsIntervalMs })
    n.start()
    return n
  }, () => {})
  const overlay = await stack.start('overlay', async () => {
    const o = createOverlay({
      libp2p,
      trust,
      access,
      events,
      tickets: metric.tickets,
      privateKey: identity.privateKey,
      ownMetric: metric.own,
      originMetric: metric.asOrigin,
      // a node offers itself only if it could run the job: architecture, interpreter, memory, a free job slot
      meets: (r) => machineMeets(r, metric.sampler.current()?.memAvailableKiB) && late.migration?.hasFreeSlot() !== false,
      busy: () => late.migration?.busy(),
      onNeighbourChange: () => { late.hint?.publish() }
    }, { delayMs: init.delayMs, splitHorizon: init.splitHorizon, c: init.hopCost })
    await o.start()
    return o
  }, async (o) => { await o.stop() })
  return { libp2p, access, invites, pairing, nearby, overlay }
}

/** The bulk port, migration (jobs sent and run here, in the sandbox) and the placement hint wrapped commands read. */
async function startMigration (stack: ServiceStack, init: DaemonInit, settings: DaemonSettings, c: { libp2p: KappaLibp2p, trust: TrustStore, access: Access, events: DaemonEvents, metric: MetricPart, overlay: Overlay, probing: MigrationComponents['overlay'], home: string }): Promise<{ bulk?: BulkListener, migration: Migration, hint: LocalHint }> {
  const { libp2p, trust, access, events, metric, overlay, probing, home } = c
  // the bulk port listens beside libp2p, on the host of the first TCP --listen address
  let bulk: BulkListener | undefined
  if (init.bulkPort !== false && settings.bulkHost != null) {
    const host = settings.bulkHost
    const port = init.bulkPort ?? 0
    try {
      bulk = await stack.start('bulk port', async () => await createBulkListener({ host, port, log: (message) => { events.emit({ type: 'warning', message }) } }), async (b) => { await b.close() })
    } catch (err) {
      // a busy --bulk-port costs speed, not function: big jobs stay on their streams
      events.emit({ type: 'warning', message: `no bulk port on ${host}:${port} (${errorMessage(err)}): big jobs use their libp2p streams only` })
    }
  }
  let localJobs = 0
  const migration = await stack.start('migration', async () => {
    const m = createMigration({
      libp2p,
      trust,
      access,
      tickets: metric.tickets,
      overlay: probing,
      events,
      home,
      bulk,
      // a job the client runs here counts at once, like a ticket, so a burst does not all stay here
      // the client starts a local job itself, a moment later (longer on a loaded machine)
      onLocalPlacement: () => { metric.countUntilSampled(`local-${++localJobs}`, Date.now() + LOCAL_START_GRACE_MS) },
      onJobDone: (ticket) => { metric.jobDone(ticket) }
    }, {
      maxJobs: init.maxJobs,
      wallMs: init.jobWallMs,
      memoryBytes: init.jobMemoryBytes,
      allowNetwork: init.allowNetwork,
      sandbox: init.noSandbox !== true,
      ...init.jobLimits,
      ...init.migration
    })
    await m.start()
    return m
  }, async (m) => { await m.stop() })
  const hint = new LocalHint({
    home,
    ownWith: metric.ownWith,
    best: () => overlay.bestNeighbour()?.dismetric,
    // a job a wrapped command started here on the hint: counted like a local placement
    onClaim: (id) => { metric.countUntilSampled(`hint-${id}`) },
    log: (line) => { events.emit({ type: 'warning', message: line }) }
  })

  return { bulk, migration, hint }
}

/** Connection events for paired peers; a stranger's idle connection is closed after a grace period. */
function watchConnections (libp2p: KappaLibp2p, c: { trust: TrustStore, access: Access, events: DaemonEvents }): void {
  const log = debugLogger('daemon:connections')
  libp2p.addEventListener('peer:connect', (evt) => {
    const id = evt.detail.toString()
    const peer = c.trust.get(id)
    if (peer != null) c.events.emit({ type: 'connected', id, alias: peer.alias })
  })
  libp2p.addEventListener('peer:disconnect', (evt) => {
    const id = evt.detail.toString()
    const peer = c.trust.get(id)
    if (peer != null) c.events.emit({ type: 'disconnected', id, alias: peer.alias })
  })
  libp2p.addEventListener('connection:open', (evt) => {
    const connection = evt.detail
    if (c.access.isKnown(connection.remotePeer)) return
    setTimeout(() => {
      if (!c.access.isKnown(connection.remotePeer) && connection.status === 'open') void connection.close().catch(logged(log, 'closing a stranger\'s connection'))
    }, STRANGER_GRACE_MS).unref()
  })
}

/** Addresses worth putting in an invite: LAN before loopback, a few at most. */
function inviteAddrs (addrs: Multiaddr[]): Multiaddr[] {
  const loopback = (a: Multiaddr): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a.toString())
  return [...addrs.filter(a => !loopback(a)), ...addrs.filter(loopback)].slice(0, 4)
}
