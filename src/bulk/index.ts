/**
 * Bulk connections: a job's heavy data (stdout, stdin, large executables and
 * files) on a direct TCP connection beside its /kappa/migrate/1 stream.
 *
 * Why: every byte on a libp2p stream passes Noise, Yamux and several
 * buffering layers in JavaScript, about three times the CPU per byte of an
 * OpenSSH session. The offer (port, id, secret) travels inside the
 * Noise-encrypted stream, after the job was admitted, so only the peer the
 * target admitted can use it; the connection then carries AES-256-GCM
 * records keyed from that secret (like mosh bootstrapping its channel over
 * ssh). Anything that goes wrong before a side switches leaves the job on
 * its stream: the bulk path only ever makes a job faster.
 */
import { TcpBulkListener, connectBulk as connectTcpBulk } from './listener.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface BulkOfferData {
  port: number
  id: Uint8Array
  secret: Uint8Array
}

/** One sealed-record connection, proved by both ends. */
export interface BulkConnection {
  /** each verified record (one frame, in the pieces it was decrypted in) goes to `handler`; records that come while there is none wait for one */
  onRecords (handler: ((plaintext: Buffer[]) => void) | undefined): void
  /** queues one record; false when the sender should wait for `drained` */
  send (pieces: readonly Uint8Array[]): boolean
  drained (signal?: AbortSignal): Promise<void>
  pause (): void
  resume (): void
  /** flushes and half-closes our side */
  end (): Promise<void>
  destroy (err?: Error): void
  /** the remote side finished cleanly; returns a function that removes the listener */
  onEnd (listener: () => void): () => void
  /** the connection is gone (for any reason); returns a function that removes the listener */
  onClose (listener: (err?: Error) => void): () => void
}

export interface BulkOfferHandle {
  offer: BulkOfferData
  /** the origin's proved connection; rejects when the offer expires, is withdrawn or fails its proof */
  connection: Promise<BulkConnection>
  cancel (): void
}

export interface BulkListener {
  readonly port: number
  offer (): BulkOfferHandle
  close (): Promise<void>
}

export interface BulkListenerInit {
  /** the address the node's libp2p TCP transport listens on (0.0.0.0 for all) */
  host: string
  /** 0 (default): any free port */
  port?: number
  log?: (line: string) => void
  /** a connection must have proved its offer this long after accept, or it is closed (default BULK_HELLO_TIMEOUT_MS) */
  helloTimeoutMs?: number
}

export async function createBulkListener (init: BulkListenerInit): Promise<BulkListener> {
  return await TcpBulkListener.listen(init)
}

/** The origin's side of an offer, at the address it reached the target's libp2p node at. */
export async function connectBulk (host: string, offer: BulkOfferData, signal: AbortSignal): Promise<BulkConnection> {
  return await connectTcpBulk(host, offer, signal)
}

/**
 * The IP of a direct TCP multiaddr (`/ip4|ip6/…/tcp/…`), where a bulk port
 * listens beside libp2p or is reached; undefined for relayed or other transports.
 */
export function tcpHost (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  if (parts.some(p => p.name === 'p2p-circuit')) return undefined
  if ((parts[0]?.name === 'ip4' || parts[0]?.name === 'ip6') && parts[1]?.name === 'tcp') return parts[0].value
  return undefined
}
