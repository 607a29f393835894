/**
 * Shared pieces of the paper benchmarks: the namespace cluster (root), the
 * paper's programs, timing a command run inside a node, and waiting for the
 * metrics to settle.
 */
import { join } from 'node:path'
import { cpus } from 'node:os'
import { REPO, until } from '../../test/helpers/node.js'
import type { NamespaceNode } from '../../src/cluster/index.js'
import { PAPER_C } from '../../src/balance/index.js'

export const LAUNCHER = join(REPO, 'bin/kappa-node')
export const PROGRAMS = join(REPO, 'bench/programs')
export const HOG = ['sh', '-c', 'while :; do :; done']
/** The paper's tables are reproduced with its hop cost c = 15 (the daemon's default is 0). */
export const PAPER_ARGS = ['--hop-cost', String(PAPER_C)]

export function machine (): string {
  return `${cpus()[0]?.model ?? '?'} × ${cpus().length} cores, Node ${process.version}`
}

export function requireRoot (what: string): void {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${what} needs root (network namespaces and cgroups); run it as root\n`)
    process.exit(1)
  }
}

/** Wall time of a command run in the node's namespace and cgroup, and its output. */
export async function timed (node: NamespaceNode, argv: string[], cwd?: string): Promise<{ seconds: number, stdout: string, stderr: string, code: number | null }> {
  const start = process.hrtime.bigint()
  const r = await node.exec(argv, { cwd, timeoutMs: 600_000 })
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, stdout: r.stdout, stderr: r.stderr, code: r.code }
}

/** `kappa-node run` from the node, as a user there would type it. */
export function viaKappa (node: NamespaceNode, argv: string[], extra: string[] = []): string[] {
  return [LAUNCHER, 'run', '--home', node.home, ...extra, '--', ...argv]
}

/** Metrics move slowly: poll every 500 ms, a failed status call is just "not yet". */
export async function settle (what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  await until(what, async () => await check().catch(() => false), timeoutMs, 500)
}

export { neighbour } from '../../test/helpers/node.js'
export { fmt } from './stats.js'
