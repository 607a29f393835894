import { createServer } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { checkAlias } from '../trust/index.js'
import { parseHttpAddress, type HttpAddress } from '../http/index.js'
import { tcpHost } from '../bulk/index.js'
import { BadInputError, asError, InUseError, UnreachableError, errorMessage, systemCode } from '../errors.js'
import { DEFAULT_HTTP, DEFAULT_PORT } from '../constants.js'

/** What `startDaemon` checked before it started anything. */
export interface DaemonSettings {
  listen: string[]
  /** the first TCP host of --listen: where the bulk port listens */
  bulkHost?: string
  http?: HttpAddress
}

/**
 * Check every option that can be wrong before anything starts (the
 * benchmark, libp2p, the control socket): a mistake costs one line and an
 * exit, not a half-started node.
 */
export function checkDaemonOptions (init: { listen?: string[], alias?: string, http?: string | false, bulkPort?: number | false }): DaemonSettings {
  if (init.alias != null) checkAlias(init.alias)
  const listen = init.listen != null && init.listen.length > 0 ? init.listen : [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`]
  const addrs: Multiaddr[] = listen.map((a) => {
    try {
      return multiaddr(a)
    } catch (err) {
      throw new BadInputError(`bad --listen address '${a}': ${errorMessage(err)}`, 2)
    }
  })
  if (init.bulkPort !== false && init.bulkPort != null && (!Number.isInteger(init.bulkPort) || init.bulkPort < 0 || init.bulkPort > 65535)) {
    throw new BadInputError(`bad --bulk-port ${String(init.bulkPort)}: a port number 0–65535`, 2)
  }
  return {
    listen,
    bulkHost: addrs.map(tcpHost).find(h => h != null),
    http: init.http === false ? undefined : parseHttpAddress(init.http ?? DEFAULT_HTTP)
  }
}

/**
 * Can this machine listen on each TCP address of --listen? Asked of the
 * kernel directly, because libp2p reports a failed listen as one multi-line
 * text. A port taken between this check and libp2p's start still fails
 * libp2p's start, which the daemon reports too.
 */
export async function checkListenable (listen: string[]): Promise<void> {
  for (const a of listen) {
    const ma = multiaddr(a)
    const host = tcpHost(ma)
    const port = Number(ma.getComponents().find(c => c.name === 'tcp')?.value)
    if (host == null || !Number.isInteger(port)) continue
    await new Promise<void>((resolve, reject) => {
      const server = createServer()
      server.once('error', (err) => {
        const code = systemCode(err)
        if (code === 'EADDRINUSE') reject(new InUseError(`cannot listen on ${a}: the port is in use (another kappa-node? use --listen)`))
        else if (code === 'EADDRNOTAVAIL') reject(new UnreachableError(`cannot listen on ${a}: this machine has no address ${host} (see \`ip addr\`; use --listen)`))
        else if (code === 'EACCES') reject(new UnreachableError(`cannot listen on ${a}: permission denied (ports below 1024 need root)`))
        else reject(new UnreachableError(`cannot listen on ${a}: ${errorMessage(err)}`))
      })
      server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve() }) })
    })
  }
}

/** libp2p's start failed: one line (its own message lists each address with a stack). */
export function libp2pStartError (err: unknown, listen: string[]): Error {
  const code = systemCode(err) ?? /\b(E[A-Z]{4,})\b/.exec(errorMessage(err))?.[1]
  if (code === 'EADDRINUSE') return new InUseError(`cannot listen on ${listen.join(', ')}: address already in use (another kappa-node? use --listen)`)
  if (code === 'EADDRNOTAVAIL') return new UnreachableError(`cannot listen on ${listen.join(', ')}: this machine has no such address (use --listen)`)
  if ((err as { name?: string })?.name === 'UnsupportedListenAddressesError') return new UnreachableError(`cannot listen on ${listen.join(', ')}: ${errorMessage(err).split('\n').find(l => /^\s*\//.test(l))?.trim() ?? 'unsupported address'}`)
  return asError(err)
}
