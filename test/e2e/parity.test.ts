import assert from 'node:assert/strict'
import { Simulator, scriptedSimConfig } from '../../src/sim/index.js'
import { cleanup, until } from '../helpers/node.js'
import { inProcessDaemon } from '../helpers/inprocess.js'
import type { Daemon } from '../../src/daemon/index.js'

/**
 * One scripted scenario, run twice: in the simulator (src/sim, simulated
 * time) and on five in-process daemons (real libp2p, real gossip and probe
 * streams). Both use src/balance for Algorithms I–III, so once their gossip
 * has settled to the same neighbour tables, every node's probe must end on
 * the same node by the same path — before and after a re-pin.
 */
const NAMES = ['A', 'B', 'C', 'D', 'E']
// a tree with one cycle: A–B, B–C, C–D, B–E, C–E
const EDGES: Array<[number, number]> = [[0, 1], [1, 2], [2, 3], [1, 4], [2, 4]]
const PINNED = [30, 50, 90, 140, 70]
const C = 15
const REPIN: [string, number] = ['D', 10]

interface Placement { from: string, local: boolean, target: string, path: string[] }
/** per node: neighbour → dismetric, as its gossip table holds it */
type Tables = Record<string, Record<string, number>>

function simulate (): { before: Placement[], after: Placement[], tables: Tables[] } {
  const delayMs = 1000
  const sim = new Simulator(scriptedSimConfig({
    seed: 3,
    topology: { kind: 'edges', n: NAMES.length, edges: EDGES },
    ids: NAMES,
    pinned: PINNED,
    c: C,
    delayMs,
    latencyMs: { min: 1, max: 5 }
  }))
  const tables = (): Tables => Object.fromEntries(NAMES.map(n => [n, Object.fromEntries((sim.gossipOf(n)?.view(sim.now) ?? []).map(v => [v.id, v.dismetric]))]))
  const placements = (): Placement[] => NAMES.map((from) => {
    const job = sim.submitJob(from)
    sim.runUntil(sim.now + delayMs / 2)
    assert.ok(job.outcome != null, `the simulator decided ${from}'s job`)
    const local = job.outcome !== 'remote'
    return { from, local, target: job.runsOn ?? from, path: local ? [] : job.reply?.path ?? [] }
  })
  sim.runUntil(10 * delayMs)
  const settled = tables()
  const before = placements()
  sim.pin(REPIN[0], REPIN[1])
  sim.runUntil(sim.now + 10 * delayMs)
  const repinned = tables()
  return { before, after: placements(), tables: [settled, repinned] }
}

describe('parity: the simulator and in-process nodes place the same jobs (issue 12, acceptance 4)', function () {
  this.timeout(180_000)
  afterEach(cleanup)

  it('five nodes, pinned metrics, c = 15: the same gossip tables and the same probe targets and paths, before and after a re-pin', async () => {
    const expected = simulate()
    // a sanity check on the scenario itself: it must place jobs remotely, over more than one hop, and change with the re-pin
    assert.ok(expected.before.some(p => p.path.length > 2), JSON.stringify(expected.before))
    assert.notDeepEqual(expected.before, expected.after)

    const nodes: Daemon[] = []
    for (const [i, name] of NAMES.entries()) nodes.push(await inProcessDaemon(name, { metricOverride: PINNED[i], hopCost: C, delayMs: 150, http: false }))
    const nameOf = new Map(nodes.map((d, i) => [d.libp2p.peerId.toString(), NAMES[i]]))
    for (const [x, y] of EDGES) await nodes[y].pairing.pair(nodes[x].invite().invite)

    const tables = (): Tables => Object.fromEntries(nodes.map((d, i) => [NAMES[i], Object.fromEntries(d.overlay.status().neighbours.filter(n => n.connected).map(n => [nameOf.get(n.id) ?? n.id, n.dismetric]))]))
    const settledTo = async (want: Tables): Promise<void> => {
      await until(`gossip tables ${JSON.stringify(want)}`, async () => JSON.stringify(tables()) === JSON.stringify(want), 60_000)
    }
    const placements = async (): Promise<Placement[]> => {
      const out: Placement[] = []
      for (const [i, d] of nodes.entries()) {
        const o = await d.overlay.probe()
        out.push(o.local
          ? { from: NAMES[i], local: true, target: NAMES[i], path: [] }
          : { from: NAMES[i], local: false, target: nameOf.get(o.target.id) ?? o.target.id, path: o.path.map(id => nameOf.get(id) ?? id) })
      }
      return out
    }

    await settledTo(expected.tables[0])
    assert.deepEqual(await placements(), expected.before)
    await pin(nodes[NAMES.indexOf(REPIN[0])], REPIN[1])
    await settledTo(expected.tables[1])
    assert.deepEqual(await placements(), expected.after)
  })
})

async function pin (daemon: Daemon, value: number): Promise<void> {
  const { callDaemon } = await import('../../src/control/client.js')
  await callDaemon(daemon.home, 'pin', { value })
}
