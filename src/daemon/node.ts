import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kappaYamux } from './muxer.js'
import { HEARTBEAT_MS, LIVENESS_MS, MDNS_SERVICE_TAG } from '../constants.js'
import type { ConnectionGater, PrivateKey, Libp2p } from '@libp2p/interface'

export interface KappaLibp2pInit {
  privateKey: PrivateKey
  listen: string[]
  gater: ConnectionGater
  mdns?: { intervalMs: number, port?: number }
}

export type KappaLibp2p = Libp2p<{ identify: unknown, ping: unknown, mdns?: unknown }>

/** TCP + Noise + Yamux, identify and ping, and mDNS on the kappa service tag. */
export async function createKappaLibp2p (init: KappaLibp2pInit): Promise<KappaLibp2p> {
  const services: Record<string, any> = {
    identify: identify(),
    ping: ping()
  }
  if (init.mdns != null) {
    // imported here: a node started with --no-mdns (every test's) skips it and multicast-dns
    const { mdns } = await import('@libp2p/mdns')
    services.mdns = mdns({ serviceTag: MDNS_SERVICE_TAG, interval: init.mdns.intervalMs, port: init.mdns.port })
  }
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [kappaYamux()],
    connectionGater: init.gater,
    // libp2p pings each connection every 10 s and, by default, aborts it when an answer takes over 5 s:
    // a peer stalled that long by a loaded machine lost the connection and every job on it ("The operation
    // was aborted due to timeout"). Here a connection is given up on after about the silence a job's
    // liveness allows; a ping ends before the next starts (two at once are refused, and that aborted it too).
    connectionMonitor: { pingInterval: LIVENESS_MS, pingTimeout: { minTimeout: LIVENESS_MS - HEARTBEAT_MS, maxTimeout: LIVENESS_MS - HEARTBEAT_MS } },
    services
  }) as KappaLibp2p
}
