/**
 * What the daemon tells its owner: one line per event for people, one JSON
 * object per line with `start --json`.
 */
export type DaemonEvent =
  | { type: 'ready', id: string, addrs: string[], invite: string, inviteExpiresAt: number, alias?: string, home: string, dashboard?: string }
  | { type: 'paired', id: string, alias?: string, via: 'invite' | 'request' | 'accept' }
  | { type: 'unpaired', id: string, alias?: string, by: 'us' | 'peer' }
  | { type: 'pair-request', id: string, alias?: string, addrs: string[] }
  | { type: 'discovered', id: string, addrs: string[] }
  | { type: 'connected', id: string, alias?: string }
  | { type: 'disconnected', id: string, alias?: string }
  | { type: 'neighbour-expired', id: string, alias?: string }
  | { type: 'job-placed', argv0: string, where: 'local' | 'remote', target?: string, alias?: string, path?: string[], sysmetric?: number, reason?: string, own?: number, best?: { id: string, dismetric: number } }
  | { type: 'warning', message: string }
  | { type: 'info', message: string }

export interface DaemonEvents {
  emit (event: DaemonEvent): void
  /** Components react to events (a new pairing adds a gossip neighbour, …). */
  subscribe (listener: (event: DaemonEvent) => void): void
}
