/**
 * The set-up of the loopback benchmarks that compare with ssh: two paired
 * daemons on 127.0.0.1 (A pinned busy at 37, B idle at 148, gossiping every
 * 200 ms), a throwaway sshd with a ControlMaster connection, a scratch
 * directory; all torn down afterwards.
 */
import { join } from 'node:path'
import { startNode, pairNodes, until, cleanup, tmpDir, REPO, type TestNode } from '../../test/helpers/node.js'
import { startSshd, type Sshd } from './sshd.js'

export interface LoopbackBench { a: TestNode, b: TestNode, cwd: string, launcher: string, sshd: Sshd }

export async function withKappaAndSsh (fn: (bench: LoopbackBench) => Promise<void>): Promise<void> {
  const sshd = await startSshd()
  try {
    const [a, b] = await Promise.all([
      startNode('a', { args: ['--delay', '200', '--metric-override', '37'] }),
      startNode('b', { args: ['--delay', '200', '--metric-override', '148'] })
    ])
    await pairNodes(a, b)
    await until('B live on A', async () => (await a.json(['status'])).neighbours[0]?.live === true, 10_000)
    await fn({ a, b, cwd: await tmpDir(), launcher: join(REPO, 'bin/kappa-node'), sshd })
  } finally {
    await cleanup()
    await sshd.stop()
  }
}
