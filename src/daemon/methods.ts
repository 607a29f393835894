/**
 * The control socket's methods (src/control/methods.ts is the contract) and
 * the status document, over the narrow views of the daemon's services they
 * read. Params come from any local process of the owner: checked here.
 */
import { BadInputError } from '../errors.js'
import type { Socket } from 'node:net'
import type { ControlHandlers, StatusDocument, PairedPeer, RebenchAnswer, JobSandboxEntry } from '../control/index.js'
import type { Overlay, ProbeOutcome } from '../overlay/index.js'
import type { MetricSampler } from '../metric/index.js'
import type { Migration } from '../migrate/index.js'
import type { Jobs, JobUpdate } from '../jobs/index.js'
import type { Pairing } from '../pairing/index.js'
import type { Nearby } from '../discovery/index.js'
import type { TrustStore } from '../trust/index.js'

export interface MethodComponents {
  self: () => { id: string, alias: string | null, addrs: string[] }
  trust: TrustStore
  /** is there a live connection to this paired peer */
  connected: (id: string) => boolean
  overlay: Pick<Overlay, 'status'> & { probe: () => Promise<ProbeOutcome> }
  sampler: Pick<MetricSampler, 'current' | 'benchmarking'>
  migration: Pick<Migration, 'jobs'>
  jobs: Pick<Jobs, 'running' | 'recent'>
  pairing: Pick<Pairing, 'pair' | 'accept' | 'unpair' | 'requests'>
  nearby: Pick<Nearby, 'list'>
  metric: {
    pinned: () => number | undefined
    /** a number pins the advertised value; undefined measures again */
    pin: (value: number | undefined) => void
    own: () => number | undefined
    benchmarkProgress: () => { done: number, total: number } | null
    rebench: () => Promise<RebenchAnswer>
  }
  invite: (ttlMs?: number) => { invite: string, expiresAt: number }
  /** how jobs for others run here (bwrap, unsandboxed, refused) and why */
  sandbox: () => JobSandboxEntry
  hint: () => { slots: number, claimed: number } | null
  bulkPort: () => number | null
}

export function pairedPeers (c: Pick<MethodComponents, 'trust' | 'connected'>): PairedPeer[] {
  return c.trust.list().map(p => ({ id: p.id, alias: p.alias ?? null, addrs: p.addrs, connected: c.connected(p.id) }))
}

/** what `status` prints, the dashboard's /status.json */
export function statusDocument (c: MethodComponents): StatusDocument {
  const o = c.overlay.status()
  const self = c.self()
  return {
    ...self,
    sysmetric: o.sysmetric,
    sendProbe: o.sendProbe,
    metricOverride: c.metric.pinned() ?? null,
    metric: c.sampler.current() ?? null,
    benchmark: c.sampler.benchmarking() ? { running: true, ...c.metric.benchmarkProgress() } : null,
    gossip: { delayMs: o.delayMs, c: o.c, splitHorizon: o.splitHorizon, messages: o.messages },
    neighbours: o.neighbours,
    jobs: c.migration.jobs(),
    sandbox: c.sandbox().mode,
    jobSandbox: c.sandbox(),
    hint: c.hint(),
    bulkPort: c.bulkPort()
  }
}

export function controlMethods (c: MethodComponents): ControlHandlers {
  return {
    id: async () => c.self(),
    peers: async () => pairedPeers(c),
    status: async () => statusDocument(c),
    probe: async () => {
      const outcome = await c.overlay.probe()
      if (outcome.local) return outcome
      // the ticket is for a migration; `kappa-node probe` only shows the answer
      const { ticket, ...shown } = outcome
      return { ...shown, ticketBytes: ticket.length }
    },
    pin: async ({ value }) => {
      if (value === null || value === 'off') {
        c.metric.pin(undefined)
      } else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
        c.metric.pin(value)
      } else {
        throw new BadInputError(`bad metric value '${String(value)}': a non-negative number, or off`)
      }
      return { sysmetric: c.metric.own() ?? null, pinned: c.metric.pinned() != null }
    },
    invite: async ({ ttlMs }) => c.invite(typeof ttlMs === 'number' && ttlMs > 0 ? ttlMs : undefined),
    jobs: async ({ limit }) => ({
      running: c.jobs.running(),
      recent: c.jobs.recent(typeof limit === 'number' && limit >= 0 ? limit : undefined)
    }),
    rebench: async () => await c.metric.rebench(),
    pair: async ({ target, alias }, { signal }) => await c.pairing.pair(String(target ?? ''), optionalString(alias), { signal }),
    accept: async ({ peer, alias }, { signal }) => await c.pairing.accept(String(peer ?? ''), optionalString(alias), { signal }),
    unpair: async ({ peer }, { signal }) => await c.pairing.unpair(String(peer ?? ''), { signal }),
    requests: async () => c.pairing.requests(),
    discover: async () => c.nearby.list(),
    alias: async ({ peer: ref, alias: wanted }) => {
      const peer = c.trust.find(String(ref ?? ''))
      if (peer == null) throw new BadInputError(`not paired with '${String(ref)}'; see kappa-node peers`)
      const alias = optionalString(wanted)
      if (alias != null) c.trust.checkFreeAlias(alias, peer.id)
      await c.trust.update(peer.id, { alias })
      return { id: peer.id, alias: alias ?? null }
    }
  }
}

/**
 * `kappa-node jobs --follow`: one JSON line per job update until the client
 * hangs up or the node stops (the control server then closes the socket).
 */
export async function followJobs (jobs: Pick<Jobs, 'running' | 'subscribe'>, socket: Socket): Promise<void> {
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
