import type { JobRecord } from '../events.js'

/**
 * What the dashboard shows, pushed to the page as one document whenever
 * something in it changes (server-sent events) and every few seconds.
 */
export interface DashboardState {
  /** server time (epoch ms): ages on the page are computed against it */
  now: number
  node: {
    id: string
    alias: string | null
    addrs: string[]
    version: string
    /** benchmarking: the CPU benchmark runs (no score yet); ready otherwise */
    state: 'benchmarking' | 'ready'
    benchmark: { done: number, total: number } | null
    sysmetric: number | null
    pinned: boolean
    sendProbe: number | null
    metric: {
      static: number
      share: number
      memFactor: number
      dynamic: number
      cores: number
      running: number
      pending: number
      memAvailableKiB: number
      memTotalKiB: number
      /** when the static score was measured (epoch ms) */
      measuredAt: number | null
      /** the static score was measured while other programs kept the CPUs busy */
      busyWhenMeasured: boolean
    } | null
    gossip: { delayMs: number, c: number, splitHorizon: boolean }
  }
  neighbours: Array<{ id: string, alias: string | null, addrs: string[], connected: boolean, live: boolean, advertised: number | null, dismetric: number | null, lastSeenMs: number | null }>
  requests: Array<{ id: string, alias: string | null, addrs: string[], receivedAt: number }>
  lan: Array<{ id: string, addrs: string[], lastSeenMs: number | null }>
  jobs: { running: JobRecord[], recent: JobRecord[] }
}
