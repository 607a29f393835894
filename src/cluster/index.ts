/**
 * Test clusters of real kappa-node daemons (SPEC §8).
 *
 * `createNamespaceCluster` (root): every node in its own network namespace
 * with its own IP on a shared bridge, and its own cgroup CPU quota, so one
 * machine behaves like a few slower or faster hosts whose links can be cut.
 * It is the executable twin of the repo's docker-compose.yml; both can start
 * from homes written by the same generator (`./keys.js`).
 */
import type { ChildProcess } from 'node:child_process'
import type { CgroupLayout, NodeCgroup } from './cgroup.js'
import { NamespaceClusterImpl } from './namespace-cluster.js'

export { namespaceSupport, removeStaleClusters } from './namespace-cluster.js'
export { writeClusterKeys, chainLinks, composeAddresses, ipAddresses, loopbackAddresses, type ClusterHome, type AddressScheme } from './keys.js'
export type { CgroupLayout, NodeCgroup } from './cgroup.js'

export interface NamespaceNodeInit {
  /** 1–8 lowercase letters or digits; also the node's alias, as seen by its neighbours */
  name: string
  /** CPU quota in CPUs (0.25, 0.5, 1, 2…); default 1 */
  cpus?: number
  /** pin the advertised sysmetric (`start --metric-override`) */
  metricOverride?: number
  /** more `kappa-node start` arguments */
  args?: string[]
}

export interface NamespaceClusterInit {
  nodes: NamespaceNodeInit[]
  /** undirected pairings by name, e.g. [['a', 'b'], ['b', 'c']] */
  links: Array<[string, string]>
  /** gossip period of every node (`start --delay`); default the daemon's */
  delayMs?: number
  /** TCP port every node listens on, at its own IP; default 4747 */
  port?: number
  /**
   * `invite` (default): pair along the links the way users do, with
   * `kappa-node invite` on one end and `kappa-node pair` on the other.
   * `generated`: write identities and trust.json beforehand (as for
   * docker-compose); the nodes find each other at start-up.
   */
  pairing?: 'invite' | 'generated'
  /** homes at `<keysDir>/<name>` (kept after stop, identities reused); default a temp dir, removed by stop() */
  keysDir?: string
  /** first three octets of the run's /24 inside 10.0.0.0/8, e.g. `10.47.3`; default derived from the pid */
  prefix?: string
  /** wait until every linked pair hears each other's gossip before returning (default true) */
  waitLive?: boolean
  /** progress lines (default: none) */
  log?: (line: string) => void
  /**
   * the CFS period of every node's quota, µs (default 100 000, the kernel's
   * and Docker's). A quota is spent in bursts: a node at half a CPU that has
   * used its 50 ms waits up to 50 ms, and every message it should answer
   * waits with it; a shorter period models a slower CPU more closely
   */
  cpuPeriodUs?: number
}

export interface ExecResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface ExecOptions {
  cwd?: string
  stdin?: string | Buffer
  env?: NodeJS.ProcessEnv
  /** SIGKILL after this long (default 60 s) */
  timeoutMs?: number
}

export interface NamespaceNode {
  readonly name: string
  readonly ip: string
  readonly home: string
  readonly id: string
  /** what the daemon listens on, with /p2p/<id> */
  readonly addrs: string[]
  /** the node's network namespace */
  readonly ns: string
  /** the hub end of its veth pair (in the cluster's hub namespace) */
  readonly veth: string
  readonly cgroup: NodeCgroup
  /** sh script: runs its arguments (or a shell) in this node's cgroup and namespace */
  readonly enter: string
  /**
   * where exec, spawn and cli run unless told otherwise: a directory of the
   * node's own, marked as a workspace (a job started there carries this
   * small directory, not whatever tree the caller happens to be in)
   */
  readonly workDir: string
  /** the daemon process */
  readonly daemon: ChildProcess
  /** every JSON event the daemon printed so far */
  readonly events: any[]
  waitForEvent (pred: (e: any) => boolean, timeoutMs?: number): Promise<any>
  /** call `listener` with every JSON event the daemon prints from now on */
  onEvent (listener: (e: any) => void): void
  /** run a command inside this node's network namespace and cgroup (in `workDir` unless `cwd` says otherwise) */
  exec (argv: string[], opts?: ExecOptions): Promise<ExecResult>
  /** start a long-running command there; stop() kills it if still running */
  spawn (argv: string[], opts?: { cwd?: string, env?: NodeJS.ProcessEnv }): ChildProcess
  /** `kappa-node <args>` against this node's home, run on the node */
  cli (args: string[], opts?: ExecOptions): Promise<ExecResult>
  /** `kappa-node <args> --json`, which must succeed; its parsed output */
  json (args: string[]): Promise<any>
  /** take the node's link to the bridge down (no RST, no FIN: packets just vanish) */
  cutLink (): Promise<void>
  restoreLink (): Promise<void>
}

export interface NamespaceCluster {
  /** unique per run: part of every namespace and cgroup name */
  readonly run: string
  /** namespace holding the bridge and the hub ends of the veths */
  readonly hub: string
  readonly bridge: string
  readonly subnet: string
  /** temp directory of the run (enter scripts, homes unless keysDir) */
  readonly dir: string
  readonly cgroups: { layout: CgroupLayout, path: string }
  readonly nodes: NamespaceNode[]
  node (name: string): NamespaceNode
  /** kill every process, remove cgroups, namespaces and temp files; idempotent, also runs on SIGINT/SIGTERM/exit */
  stop (): Promise<void>
}

/**
 * Bring up the nodes, each in its namespace and cgroup, listening on
 * `/ip4/<ip>/tcp/<port>`, and pair them along `links`. Needs root, `ip`
 * (iproute2) and `nsenter` (util-linux). Anything created is removed again
 * if start-up fails.
 */
export async function createNamespaceCluster (init: NamespaceClusterInit): Promise<NamespaceCluster> {
  return await NamespaceClusterImpl.create(init)
}
