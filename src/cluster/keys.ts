/**
 * Pre-paired homes for test clusters: one directory per node holding its
 * `identity.key` and a `trust.json` that already lists its neighbours, so a
 * cluster comes up paired without any invite exchange. docker-compose (where
 * nothing can run between `up` and the daemons' start) and the namespace
 * cluster share this generator; only the address scheme differs.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureHome, homeFile, writeFileAtomic } from '../home/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { UserError } from '../errors.js'
import { DEFAULT_PORT } from '../constants.js'

/** Node names double as aliases, DNS names, netns and cgroup path parts: keep them short and plain. */
export const NODE_NAME_PATTERN = /^[a-z][a-z0-9]{0,7}$/

/** Where a node can be reached, given its name: the multiaddrs its neighbours dial. */
export type AddressScheme = (name: string) => string[]

/** docker-compose: each service resolves by its name on the compose network. */
export const composeAddresses = (port = DEFAULT_PORT): AddressScheme => (name) => [`/dns4/${name}/tcp/${port}`]

/** One IP per node (the namespace cluster), same port everywhere. */
export const ipAddresses = (ips: Record<string, string>, port = DEFAULT_PORT): AddressScheme => (name) => {
  const ip = ips[name]
  if (ip == null) throw new UserError(`no IP address for node '${name}'`)
  return [`/ip4/${ip}/tcp/${port}`]
}

/** Everything on 127.0.0.1, one port per node (tests, the demo). */
export const loopbackAddresses = (ports: Record<string, number>): AddressScheme => (name) => {
  const port = ports[name]
  if (port == null) throw new UserError(`no port for node '${name}'`)
  return [`/ip4/127.0.0.1/tcp/${port}`]
}

export interface ClusterKeysInit {
  /** parent directory: node `a` gets `<dir>/a` */
  dir: string
  names: string[]
  /** undirected pairings, e.g. [['a', 'b'], ['b', 'c']] for a chain */
  links: Array<[string, string]>
  addresses: AddressScheme
  /** keep an existing identity.key so peer ids survive regeneration (default true) */
  keepIdentities?: boolean
}

export interface ClusterHome {
  name: string
  home: string
  id: string
  /** this node's own addresses in the scheme (what its neighbours dial) */
  addrs: string[]
  /** names of the nodes it is paired with */
  neighbours: string[]
}

/** The chain A–B–C… of the paper's Table III, as links between consecutive names. */
export function chainLinks (names: string[]): Array<[string, string]> {
  return names.slice(1).map((name, i) => [names[i], name])
}

/** Names and links that make sense: known, distinct, no self-loops or repeats. */
export function checkTopology (names: string[], links: Array<[string, string]>): void {
  if (names.length === 0) throw new UserError('a cluster needs at least one node')
  for (const name of names) {
    if (!NODE_NAME_PATTERN.test(name)) throw new UserError(`bad node name '${name}': 1 to 8 lowercase letters or digits, starting with a letter`)
  }
  if (new Set(names).size !== names.length) throw new UserError(`node names repeat: ${names.join(', ')}`)
  const seen = new Set<string>()
  for (const [x, y] of links) {
    if (!names.includes(x) || !names.includes(y)) throw new UserError(`link ${x}–${y} names an unknown node (nodes: ${names.join(', ')})`)
    if (x === y) throw new UserError(`link ${x}–${y} pairs a node with itself`)
    const key = [x, y].sort().join('–')
    if (seen.has(key)) throw new UserError(`link ${key} is listed twice`)
    seen.add(key)
  }
}

/**
 * Write `<dir>/<name>/identity.key` and `<dir>/<name>/trust.json` for every
 * node, in the formats the daemon itself reads and writes. Both ends of each
 * link list each other (pairing is mutual), with the neighbour's name as alias.
 */
export async function writeClusterKeys (init: ClusterKeysInit): Promise<ClusterHome[]> {
  checkTopology(init.names, init.links)
  const homes: ClusterHome[] = []
  for (const name of init.names) {
    const home = await ensureHome(join(init.dir, name))
    if (init.keepIdentities === false) await rm(homeFile(home, 'identity'), { force: true })
    const identity = await loadOrCreateIdentity(home)
    homes.push({ name, home, id: identity.peerId.toString(), addrs: init.addresses(name), neighbours: [] })
  }
  const byName = new Map(homes.map(h => [h.name, h]))
  for (const [x, y] of init.links) {
    byName.get(x)?.neighbours.push(y)
    byName.get(y)?.neighbours.push(x)
  }
  const pairedAt = Date.now()
  for (const home of homes) {
    const peers = home.neighbours.map(name => {
      const peer = byName.get(name) as ClusterHome
      return { id: peer.id, alias: peer.name, addrs: peer.addrs, pairedAt }
    })
    await writeFileAtomic(homeFile(home.home, 'trust'), JSON.stringify({ version: 1, peers }, null, 2) + '\n', 0o600)
  }
  return homes
}
