/**
 * The network of a namespace cluster: one network namespace per node with its
 * own IP on `eth0`, and a hub namespace holding the bridge and the other end
 * of every veth pair. Nothing is created in the host's namespace, so parallel
 * runs cannot collide on interface names or subnets, the host's firewall and
 * bridge-netfilter settings do not apply, and deleting the namespaces removes
 * every interface.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { UserError } from '../errors.js'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('cluster')

export const BRIDGE = 'kappa-br'

export interface NetnsNode {
  name: string
  /** the node's namespace, `kappa-<run>-<name>` */
  ns: string
  /** /run/netns/…: what `nsenter --net=` takes */
  nsPath: string
  ip: string
  /** the hub's end of the node's veth pair; down = the node is cut off */
  veth: string
}

export interface ClusterNetwork {
  /** namespace holding the bridge and the hub ends of the veths */
  hub: string
  bridge: string
  /** e.g. 10.47.12.0/24 */
  subnet: string
  nodes: NetnsNode[]
  cut (name: string): Promise<void>
  restore (name: string): Promise<void>
  /** delete every namespace of the run; safe to repeat */
  remove (): Promise<void>
  removeSync (): void
}

export async function ip (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() !== '' ? stderr.trim() : err.message}`))
      else resolve(stdout)
    })
  })
}

/** Names of the network namespaces that exist now. */
export async function listNamespaces (): Promise<string[]> {
  const out = await ip(['netns', 'list'])
  return out.split('\n').filter(l => l !== '').map(l => l.split(' ')[0])
}

function netnsPath (ns: string): string {
  for (const dir of ['/run/netns', '/var/run/netns']) {
    if (existsSync(`${dir}/${ns}`)) return `${dir}/${ns}`
  }
  throw new Error(`network namespace ${ns} has no file under /run/netns`)
}

export interface NetworkInit {
  /** run id, part of every namespace name */
  run: string
  names: string[]
  /** first three octets of the run's /24, e.g. `10.47.12` */
  prefix: string
}

/** Node i (0-based) gets `<prefix>.<10 + i>`: small, readable, clear of .0/.1/.255. */
export function nodeIp (prefix: string, index: number): string {
  return `${prefix}.${10 + index}`
}

export async function createNetwork (init: NetworkInit): Promise<ClusterNetwork> {
  const hub = `kappa-${init.run}-hub`
  const created: string[] = []
  const nodes: NetnsNode[] = []
  const removeSync = (): void => {
    for (const ns of [...created].reverse()) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch (err) { debug('removing a namespace: %s', errorMessage(err)) }
    }
    created.length = 0
  }
  const remove = async (): Promise<void> => {
    for (const ns of [...created].reverse()) {
      await ip(['netns', 'del', ns]).catch(async (err) => {
        if ((await listNamespaces().catch(() => [] as string[])).includes(ns)) throw err
      })
    }
    created.length = 0
  }
  const add = async (ns: string): Promise<void> => {
    await ip(['netns', 'add', ns])
    created.push(ns)
    await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  }
  try {
    await add(hub)
    await ip(['-n', hub, 'link', 'add', BRIDGE, 'type', 'bridge'])
    await ip(['-n', hub, 'link', 'set', BRIDGE, 'up'])
    for (const [i, name] of init.names.entries()) {
      const ns = `kappa-${init.run}-${name}`
      const veth = `veth-${name}`
      const address = nodeIp(init.prefix, i)
      await add(ns)
      // both ends are born in their namespaces: nothing ever appears in the host's
      await ip(['-n', hub, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await ip(['-n', hub, 'link', 'set', veth, 'master', BRIDGE, 'up'])
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      nodes.push({ name, ns, nsPath: netnsPath(ns), ip: address, veth })
    }
  } catch (err) {
    removeSync()
    throw err
  }
  const find = (name: string): NetnsNode => {
    const node = nodes.find(n => n.name === name)
    if (node == null) throw new UserError(`no node '${name}' in this cluster`)
    return node
  }
  return {
    hub,
    bridge: BRIDGE,
    subnet: `${init.prefix}.0/24`,
    nodes,
    async cut (name) { await ip(['-n', hub, 'link', 'set', find(name).veth, 'down']) },
    async restore (name) { await ip(['-n', hub, 'link', 'set', find(name).veth, 'up']) },
    remove,
    removeSync
  }
}
