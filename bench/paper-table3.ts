/**
 * bench/paper-table3: the paper's Table III on this implementation. A–B–C
 * with B paired to both (A not paired with C), every host with a 0.5-CPU
 * quota; A and B loaded with 5 CPU-bound processes each, C idle; then 10
 * infinite-loop processes started on A through kappa. Printed row by row,
 * with the values that decided each placement. Then the same 10 started at
 * once (one probe round), with and without pending-work accounting.
 */
import { pathToFileURL } from 'node:url'
import { createNamespaceCluster, type NamespaceCluster, type NamespaceNode } from '../src/cluster/index.js'
import { HOG, PAPER_ARGS, fmt, machine, neighbour, requireRoot, settle, viaKappa } from './lib/paper.js'

const PAPER_ROWS = [
  'No migration: the probe reply wasn\'t received before the process ran',
  'Migrated to C: after 2 "delays" for convergence',
  'Migrated to C', 'Migrated to C', 'Migrated to C', 'Migrated to C', 'Migrated to C',
  'No migration: C\'s load is higher than B\'s, but B\'s cache is not updated; the reply shows migration is not needed',
  'No migration (as row 8)',
  'Migrated to B: B has the least load'
]

interface Placement { where: string, sysmetric?: number, reason?: string, path?: string[] }

async function loadedChain (pendingAccounting: boolean, log: (l: string) => void): Promise<NamespaceCluster> {
  const extra = pendingAccounting ? [...PAPER_ARGS] : [...PAPER_ARGS, '--no-pending-accounting']
  const cluster = await createNamespaceCluster({
    // A and B half a CPU each, C a whole one: the two CPUs of this machine, shared as three hosts
    nodes: [['a', 0.5], ['b', 0.5], ['c', 1]].map(([name, cpus]) => ({ name: name as string, cpus: cpus as number, args: extra })),
    links: [['a', 'b'], ['b', 'c']],
    delayMs: 1000,
    log
  })
  const [a, b, c] = ['a', 'b', 'c'].map(n => cluster.node(n))
  for (let i = 0; i < 5; i++) { a.spawn(HOG); b.spawn(HOG) }
  await settle('A and B to look loaded, and C\'s value to reach A through B', async () => {
    const sa = await a.json(['status'])
    const sb = await b.json(['status'])
    const cOnB = neighbour(sb, c.id)
    return sa.sysmetric < 60 && sb.sysmetric < 60 && cOnB?.live === true && cOnB.dismetric > sb.sysmetric && neighbour(sa, b.id)?.dismetric > sa.sysmetric
  })
  return cluster
}

function nameOf (cluster: NamespaceCluster, id?: string): string {
  return cluster.nodes.find(n => n.id === id)?.name.toUpperCase() ?? 'A'
}

/** Start `count` infinite loops on A through kappa, `gapMs` apart; their placements, in order. */
async function startLoops (cluster: NamespaceCluster, a: NamespaceNode, count: number, gapMs: number, before?: (i: number) => Promise<void>): Promise<Placement[]> {
  const placements: Placement[] = []
  let seen = 0
  a.onEvent((e) => {
    if (e.type !== 'job-placed') return
    placements.push({ where: e.where === 'remote' ? nameOf(cluster, e.target) : 'A', sysmetric: e.sysmetric, reason: e.reason, path: e.path?.map((id: string) => nameOf(cluster, id)) })
  })
  for (let i = 0; i < count; i++) {
    await before?.(i)
    a.spawn(viaKappa(a, HOG))
    if (gapMs > 0) {
      await settle(`placement of process ${i + 1}`, async () => placements.length > seen, 10_000)
      seen = placements.length
      await new Promise(resolve => setTimeout(resolve, gapMs))
    }
  }
  await settle('every placement', async () => placements.length >= count, 30_000)
  return placements
}

export interface Table3Result { markdown: string, staleWith: number, staleWithout: number }

export async function runTable3 (log: (line: string) => void = (l) => { process.stderr.write(`${l}\n`) }): Promise<Table3Result> {
  const rows: string[] = []
  let cluster: NamespaceCluster | undefined
  try {
    log('table 3: A–B–C (0.5, 0.5 and 1 CPU), A and B loaded with 5 processes, C idle; 10 loops started on A one by one')
    cluster = await loadedChain(true, log)
    const [a, b] = [cluster.node('a'), cluster.node('b')]
    const seenBy: Array<{ a: number, bOnA: number, b: number, cOnB: number }> = []
    const placements = await startLoops(cluster, a, 10, 2000, async () => {
      const sa = await a.json(['status'])
      const sb = await b.json(['status'])
      seenBy.push({ a: sa.sysmetric, bOnA: neighbour(sa, b.id)?.dismetric, b: sb.sysmetric, cOnB: neighbour(sb, cluster?.node('c').id ?? '')?.dismetric })
    })
    placements.forEach((p, i) => {
      const v = seenBy[i]
      const why = p.where === 'A'
        ? `A's ${fmt(v.a)} ≥ what B advertises (${fmt(v.bOnA)})${p.reason != null ? ` — ${p.reason}` : ''}${p.sysmetric != null ? `; the reply carried ${fmt(p.sysmetric)}` : ''}`
        : `B advertised ${fmt(v.bOnA)} > A's ${fmt(v.a)}; B ${fmt(v.b)} vs C via B ${fmt(v.cOnB)}; reply from ${p.where} carried ${fmt(p.sysmetric)}, path ${p.path?.join('→') ?? '?'}`
      rows.push(`| ${i + 1} | ${p.where === 'A' ? 'No migration' : `Migrated to ${p.where}`} | ${why} | ${PAPER_ROWS[i]} |`)
    })
  } finally {
    await cluster?.stop()
    cluster = undefined
  }

  // one probe round: 10 at once, with and without pending-work accounting
  const burst = async (accounting: boolean): Promise<{ counts: Record<string, number>, values: string, stale: number }> => {
    let c: NamespaceCluster | undefined
    try {
      log(`table 3: 10 loops at once, pending-work accounting ${accounting ? 'on' : 'off'}`)
      c = await loadedChain(accounting, log)
      const placements = await startLoops(c, c.node('a'), 10, 0)
      const counts: Record<string, number> = { A: 0, B: 0, C: 0 }
      for (const p of placements) counts[p.where]++
      // a landing is stale when the target's reply still shows the value it had before the round's earlier jobs
      const lastValue = new Map<string, number>()
      let stale = 0
      for (const p of placements) {
        if (p.where === 'A' || p.sysmetric == null) continue
        if (lastValue.get(p.where) === p.sysmetric) stale++
        lastValue.set(p.where, p.sysmetric)
      }
      const values = placements.map(p => p.where === 'A' ? `A (${p.reason ?? 'local'})` : `${p.where} ${fmt(p.sysmetric, 0)}`).join(', ')
      return { counts, values, stale }
    } finally {
      await c?.stop()
    }
  }
  const withAcc = await burst(true)
  const withoutAcc = await burst(false)
  const markdown = [
    '## Table III — effect of increasing load (A–B–C, B paired with both)',
    '',
    `Three namespaced hosts with CPU quotas 0.5 (A), 0.5 (B) and 1 (C); A and B loaded with 5 CPU-bound processes, C idle; gossip every 1 s; 10 infinite loops started on A through \`kappa-node run\`, 2 s apart. ${machine()}.`,
    '',
    '| process | result | why (values when it started) | paper |',
    '| ---: | --- | --- | --- |',
    ...rows,
    '',
    'Differences from the paper: the origin waits for the probe reply (up to 2 s), so row 1\'s "reply not received before the process ran" does not happen; pending-work accounting and the fresh value in each reply make C\'s value drop with every job it accepts, and relays offer themselves when the reply they carry is worse than their own fresh value.',
    '',
    '### The same 10 started at once (one probe round)',
    '',
    '| pending-work accounting | on A | on B | on C | placements in order (value the reply carried, or why local) | stale landings |',
    '| --- | ---: | ---: | ---: | --- | ---: |',
    `| on | ${withAcc.counts.A} | ${withAcc.counts.B} | ${withAcc.counts.C} | ${withAcc.values} | ${withAcc.stale} |`,
    `| off | ${withoutAcc.counts.A} | ${withoutAcc.counts.B} | ${withoutAcc.counts.C} | ${withoutAcc.values} | ${withoutAcc.stale} |`,
    '',
    'A stale landing is a job placed on a node whose reply still carried the same value as the previous job placed there in the round, i.e. a value that did not count the jobs it had just accepted.',
    ''
  ].join('\n')
  return { markdown, staleWith: withAcc.stale, staleWithout: withoutAcc.stale }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  requireRoot('bench/paper-table3')
  runTable3().then((r) => { process.stdout.write(r.markdown) }, (err) => { console.error(err); process.exitCode = 1 })
}
