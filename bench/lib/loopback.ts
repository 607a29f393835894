/** Two paired daemons on 127.0.0.1: A pinned busy (37), B pinned idle (148), gossiping every 200 ms. */
import { startNode, pairNodes, until, type TestNode } from '../../test/helpers/node.js'

export async function busyAndIdle (): Promise<[TestNode, TestNode]> {
  const [a, b] = await Promise.all([
    startNode('a', { args: ['--delay', '200', '--metric-override', '37'] }),
    startNode('b', { args: ['--delay', '200', '--metric-override', '148'] })
  ])
  await pairNodes(a, b)
  await until('B live on A', async () => (await a.json(['status'])).neighbours[0]?.live === true, 10_000)
  return [a, b]
}
