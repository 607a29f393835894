import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'

/**
 * Which `Host` headers the dashboard answers (DNS rebinding): a page on
 * another site can point a name it controls at 127.0.0.1 and have the
 * browser read this node's status as that site. Such a request carries the
 * attacker's name, so only names that mean this machine are served: the
 * bound address (every local address when bound to a wildcard), the
 * loopback forms, and names the owner gave explicitly (`--http-host`).
 */
export interface HostPolicy {
  /** true when a request with this Host header may be answered */
  allows (hostHeader: string | undefined): boolean
}

export function hostPolicy (boundAddress: string, names: readonly string[] = [], interfaceAddresses: () => string[] = localAddresses): HostPolicy {
  const explicit = new Set(names.map(normalize))
  const bound = normalize(boundAddress.replace(/^\[(.*)\]$/, '$1'))
  const wildcard = bound === '0.0.0.0' || bound === '::'
  return {
    allows (hostHeader) {
      if (hostHeader == null || hostHeader === '') return false
      const host = normalize(stripPort(hostHeader))
      if (host === '' || explicit.has(host)) return true
      if (host === 'localhost' || host.endsWith('.localhost')) return true
      const family = isIP(host)
      if (family === 0) return false
      if (isLoopback(host)) return true
      if (host === bound) return true
      return wildcard && interfaceAddresses().map(normalize).includes(host)
    }
  }
}

function normalize (name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '')
}

/** `name:port`, `[v6]:port`, `[v6]`, `name`: the name. */
function stripPort (host: string): string {
  const h = host.trim()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    return end < 0 ? '' : h.slice(1, end)
  }
  const colon = h.indexOf(':')
  // more than one colon without brackets is not a valid Host header
  if (colon >= 0 && h.indexOf(':', colon + 1) >= 0) return ''
  return colon < 0 ? h : h.slice(0, colon)
}

function isLoopback (ip: string): boolean {
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip) || /^::ffff:127\./.test(ip)
}

function localAddresses (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => (list ?? []).map(i => i.address))
}
