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
import { createEventLog, type EventLog } from './log.js'
import { createJobs, type Jobs, type JobUpdate } from '../jobs/index.js'
import { createNodeMetrics } from '../http/index.js'
import { dashboardState, metricsSnapshot, timedOverlay, type ViewSources } from './views.js'
import { Reconnector } from './reconnect.js'
import { LocalHint } from './hint.js'
import { TicketBook } from '../tickets/index.js'
import { createOverlay, type Overlay } from '../overlay/index.js'
import { machineMeets } from '../host/requirements.js'
import { createMetricSampler, PENDING_TICKET_MS, type MetricSampler } from '../metric/index.js'
import { createMigration, type Migration, type MigrationInit } from '../migrate/index.js'
import { UserError, errorMessage } from '../errors.js'
import { startHttp, type HttpEndpoint } from '../http/index.js'
import { DEFAULT_HTTP, DEFAULT_PORT, INVITE_TTL_MS, LOCAL_START_GRACE_MS, MDNS_INTERVAL_MS, STRANGER_GRACE_MS, METRIC_SETTLE_MS } from '../constants.js'
import { createBulkListener, tcpHost, type BulkListener } from '../bulk/index.js'
import type { DaemonEvents } from '../events.js'
import type { Socket } from 'node:net'

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
  const events = createEventLog({ json: init.json === true, out: init.logTo })
  const jobs = createJobs({ events, file: homeFile(home, 'jobLog'), log: (line) => { events.emit({ type: 'warning', message: line }) } })
  await jobs.start()
  for (const line of tightened) events.emit({ type: 'warning', message: line })
  const invites = new InviteBook()
  const acceptPairRequests = init.acceptPairRequests ?? true
  const mdnsIntervalMs = init.mdnsIntervalMs ?? MDNS_INTERVAL_MS

  // the metric: measured (benchmark once per boot, then /proc every 5 s) unless pinned
  let metricOverride = init.metricOverride
  let overlayRef: Overlay | undefined
  let benchmarkProgress: { done: number, total: number } | null = null
  const changed = new Set<() => void>()
  const notifyChanged = (): void => { for (const l of changed) l() }
  const sampler = createMetricSampler({
    cacheFile: homeFile(home, 'benchmark'),
    procRoot: init.procRoot,
    log: (line) => { init.onBenchmarkProgress?.(undefined); events.emit({ type: 'info', message: line }) },
    onSample: () => { overlayRef?.changed(); hintRef?.publish(); notifyChanged() },
    // the benchmark is the one slow thing at start-up: say so once, the sampler logs the result
    onProgress: (p) => {
      if (p.done === 1) events.emit({ type: 'info', message: `metric: benchmarking the CPU (${p.total} kernel runs, a few seconds)…` })
      benchmarkProgress = { done: p.done, total: p.total }
      init.onBenchmarkProgress?.(benchmarkProgress)
      notifyChanged()
    }
  })
  let samplerStarted = false
  const startSampler = (): void => {
    if (samplerStarted) return
    samplerStarted = true
    sampler.start().catch((err) => { events.emit({ type: 'warning', message: `metric: ${String(err.message).replace(/^metric: /, '')}` }) })
  }
  // jobs wrapped commands started here on the placement hint count before any decision reads the metric
  let hintRef: LocalHint | undefined
  const ownMetric = (): number | undefined => {
    hintRef?.sweep()
    return metricOverride ?? sampler.fresh()?.sysmetric
  }
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
    busy: () => migrationRef?.busy(),
    onNeighbourChange: () => { hintRef?.publish() }
  }, { delayMs: init.delayMs, splitHorizon: init.splitHorizon, c: init.hopCost })
  await overlay.start()
  overlayRef = overlay
  const paired = (): Array<{ id: string, alias?: string | null, addrs: string[], connected: boolean }> => trust.list().map(p => ({
    id: p.id,
    alias: p.alias ?? null,
    addrs: p.addrs,
    connected: libp2p.getConnections(peerIdFromString(p.id)).length > 0
  }))
  const views: ViewSources = {
    id: () => libp2p.peerId.toString(),
    alias: init.alias ?? null,
    addrs: () => libp2p.getMultiaddrs().map(String),
    overlay,
    sampler,
    metricOverride: () => metricOverride,
    benchmarkProgress: () => benchmarkProgress,
    jobs,
    requests: () => pairing.requests(),
    lan: () => nearby.list(),
    paired
  }
  const metrics = createNodeMetrics({ snapshot: () => metricsSnapshot(views), running: () => jobs.running() })
  jobs.subscribe((u) => {
    if (u.type === 'job-ended') metrics.jobEnded(u.job)
    notifyChanged()
  })
  events.subscribe(() => { notifyChanged() })
  // every probe (a job's placement, `kappa-node probe`) is timed into /metrics
  const probing = timedOverlay(overlay, metrics)
  if (metricOverride == null) startSampler()
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
    overlay: probing,
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
    sandbox: init.noSandbox !== true,
    ...init.jobLimits,
    ...init.migration
  })
  await migration.start()
  migrationRef = migration
  const hint = new LocalHint({
    home,
    ownWith: (k) => metricOverride ?? (k === 0 ? sampler.fresh()?.sysmetric : sampler.whatIf(k)),
    best: () => overlay.bestNeighbour()?.dismetric,
    // a job a wrapped command started here on the hint: counted like a local placement
    onClaim: (id) => { countUntilSampled(`hint-${id}`) },
    log: (line) => { events.emit({ type: 'warning', message: line }) }
  })

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

  const peersView = (): unknown[] => paired()

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
      benchmark: sampler.benchmarking() ? { running: true, ...benchmarkProgress } : null,
      gossip: { delayMs: o.delayMs, c: o.c, splitHorizon: o.splitHorizon },
      neighbours: o.neighbours,
      jobs: migration.jobs(),
      sandbox: migration.sandbox().mode,
      jobSandbox: migration.sandbox(),
      hint: hintRef?.view() ?? null,
      bulkPort: bulk?.port ?? null
    }
  }

  const methods: Record<string, ControlMethod> = {
    id: async () => ({ id: libp2p.peerId.toString(), alias: init.alias ?? null, addrs: libp2p.getMultiaddrs().map(String) }),
    peers: async () => peersView(),
    status: async () => statusDocument(),
    probe: async () => {
      const outcome = await probing.probe()
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
        hint.publish()
      } else {
        throw new UserError(`bad metric value '${String(value)}': a non-negative number, or off`)
      }
      return { sysmetric: ownMetric() ?? null, pinned: metricOverride != null }
    },
    invite: async (params) => invite(typeof params.ttlMs === 'number' && params.ttlMs > 0 ? params.ttlMs : undefined),
    jobs: async (params) => ({
      running: jobs.running(),
      recent: jobs.recent(typeof params.limit === 'number' && params.limit >= 0 ? params.limit : undefined)
    }),
    rebench: async () => await rebench(),
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
      streaming: {
        run: async (params, socket, rest) => { await migration.serveRun(params, socket, rest) },
        'jobs-follow': async (_params, socket) => { await followJobs(jobs, socket) }
      },
      log: (line) => { events.emit({ type: 'warning', message: line }) }
    })
  } catch (err) {
    await libp2p.stop()
    throw err
  }
  reconnector.start()
  // published once the control socket answers: a shim without a free slot asks the daemon
  hint.start()
  hintRef = hint
  let http: HttpEndpoint | undefined
  if (init.http !== false) {
    http = await startHttp({
      status: statusDocument,
      state: () => dashboardState(views),
      metrics,
      onChange: (listener) => { changed.add(listener); return () => { changed.delete(listener) } },
      log: (line) => { events.emit({ type: 'warning', message: line }) }
    }, init.http ?? DEFAULT_HTTP, { hosts: init.httpHosts })
  }

  events.emit({
    type: 'ready',
    id: libp2p.peerId.toString(),
    addrs: libp2p.getMultiaddrs().map(String),
    alias: init.alias,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined
  })

  /** measure the CPU again now (the owner asked: SIGHUP, `metric --rebench`) and gossip the new value */
  async function rebench (): Promise<unknown> {
    if (metricOverride == null) startSampler()
    events.emit({ type: 'info', message: 'metric: measuring the CPU again (asked by the owner)' })
    const s = await sampler.rebench()
    init.onBenchmarkProgress?.(undefined)
    benchmarkProgress = null
    overlay.changed()
    notifyChanged()
    return { static: s.score, measuredAt: s.measuredAt, busy: s.busy, othersBusy: s.othersBusy, kernels: s.kernels, durationMs: s.durationMs, metric: sampler.current() ?? null, pinned: metricOverride != null }
  }

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
    log: events,
    jobs,
    nearby,
    home,
    dashboard: http != null ? `http://${http.address}/` : undefined,
    invite,
    rebench,
    async stop () {
      if (stopped) return
      stopped = true
      reconnector.stop()
      hint.stop()
      await http?.close()
      sampler.stop()
      await migration.stop().catch(() => {})
      await jobs.stop()
      await bulk?.close().catch(() => {})
      await overlay.stop().catch(() => {})
      await control.close()
      await pairing.stop().catch(() => {})
      await libp2p.stop()
    }
  }
}

/**
 * `kappa-node jobs --follow`: one JSON line per job update until the client
 * hangs up or the node stops (the control server then closes the socket).
 */
async function followJobs (jobs: Jobs, socket: Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    const write = (u: JobUpdate): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(u) + '\n')
    }
    // what runs now first, so a follower that joins late sees it end
    socket.write(JSON.stringify({ ok: true, result: { running: jobs.running() } }) + '\n')
    const unsubscribe = jobs.subscribe(write)
    socket.on('close', () => { unsubscribe(); resolve() })
    socket.on('data', () => {}) // the client sends nothing more; keep the socket flowing
  })
}

function optionalString (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Addresses worth putting in an invite: LAN before loopback, a few at most. */
function inviteAddrs (addrs: Multiaddr[]): Multiaddr[] {
  const loopback = (a: Multiaddr): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a.toString())
  return [...addrs.filter(a => !loopback(a)), ...addrs.filter(loopback)].slice(0, 4)
}
