/**
 * bench/paper-table2: the paper's Table II on this implementation. Two hosts
 * in network namespaces with a 1-CPU quota each; A loaded with 4 CPU-bound
 * processes, B idle; the paper's four programs started on A without kappa
 * and through `kappa-node run`; the metrics as both ends see them; speedup.
 */
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { createNamespaceCluster, type NamespaceCluster } from '../src/cluster/index.js'
import { HOG, PAPER_ARGS, PROGRAMS, fmt, machine, neighbour, requireRoot, settle, timed, viaKappa } from './lib/paper.js'

const PAPER: Record<string, { a: number, b: number, bOnA: number, aOnB: number }> = {
  'brute force': { a: 37, b: 148, bOnA: 133, aOnB: 22 },
  exponentiate: { a: 35, b: 144, bOnA: 129, aOnB: 20 },
  prime: { a: 42, b: 145, bOnA: 130, aOnB: 27 },
  'hello world': { a: 37, b: 141, bOnA: 126, aOnB: 22 }
}
const PROGRAM_FILES: Record<string, string> = { 'brute force': 'brute-force.sh', exponentiate: 'exponentiate.sh', prime: 'prime.sh', 'hello world': 'hello.sh' }

export interface Table2Result { markdown: string, speedups: Record<string, number>, helloOverhead: number }

export async function runTable2 (log: (line: string) => void = (l) => { process.stderr.write(`${l}\n`) }): Promise<Table2Result> {
  let cluster: NamespaceCluster | undefined
  try {
    log('table 2: starting A and B (1 CPU each), A loaded with 4 CPU-bound processes')
    cluster = await createNamespaceCluster({ nodes: [{ name: 'a', cpus: 1 }, { name: 'b', cpus: 1 }].map(n => ({ ...n, args: PAPER_ARGS })), links: [['a', 'b']], delayMs: 1000, log })
    const a = cluster.node('a')
    const b = cluster.node('b')
    for (let i = 0; i < 4; i++) a.spawn(HOG)
    await settle('A to look loaded and B better', async () => {
      const s = await a.json(['status'])
      const nb = neighbour(s, b.id)
      return s.sysmetric != null && s.sysmetric < 80 && nb?.live === true && nb.dismetric > s.sysmetric
    })
    const rows: string[] = []
    const speedups: Record<string, number> = {}
    let helloOverhead = 0
    for (const [name, file] of Object.entries(PROGRAM_FILES)) {
      const program = join(PROGRAMS, file)
      // as in the paper, each program starts in the steady state: B idle again after the previous one
      await settle('B to look idle again from A', async () => {
        const s = await a.json(['status'])
        return s.sysmetric < 80 && neighbour(s, b.id)?.dismetric > 110
      })
      const sa = await a.json(['status'])
      const sb = await b.json(['status'])
      const local = await timed(a, [program])
      const remote = await timed(a, viaKappa(a, [program]))
      if (remote.stdout !== local.stdout || remote.code !== 0) throw new Error(`${name}: kappa output differs: ${remote.stdout} vs ${local.stdout} (${remote.stderr})`)
      const log2 = await b.json(['status'])
      const ranOnB = log2.jobs.counters.jobsIn > sb.jobs.counters.jobsIn
      speedups[name] = local.seconds / remote.seconds
      if (name === 'hello world') helloOverhead = remote.seconds - local.seconds
      const p = PAPER[name]
      rows.push(`| ${name} | ${fmt(sa.sysmetric, 0)} (${p.a}) | ${fmt(sb.sysmetric, 0)} (${p.b}) | ${fmt(neighbour(sa, b.id)?.dismetric, 0)} (${p.bOnA}) | ${fmt(neighbour(sb, a.id)?.dismetric, 0)} (${p.aOnB}) | ${fmt(local.seconds, 2)} | ${fmt(remote.seconds, 2)}${ranOnB ? '' : ' (ran on A)'} | ${fmt(speedups[name], 2)}× |`)
      log(`  ${name}: ${fmt(local.seconds, 2)} s without kappa, ${fmt(remote.seconds, 2)} s with (${ranOnB ? 'on B' : 'on A'})${remote.stderr.trim() !== '' ? `: ${remote.stderr.trim()}` : ''}`)
      if (!ranOnB) log(`    placement: ${JSON.stringify(a.events.filter(e => e.type === 'job-placed').slice(-1)[0] ?? null)}`)
    }
    const markdown = [
      '## Table II — process migration (A loaded with 4 CPU-bound processes, B idle)',
      '',
      `Two namespaced hosts with a 1-CPU cgroup quota each, gossip every 1 s, metrics measured (not pinned). ${machine()}. Paper values in parentheses; times are wall seconds of the program started on A, without kappa and through \`kappa-node run\`.`,
      '',
      '| process | sysmetric A | sysmetric B | dismetric B on A | dismetric A on B | without kappa (s) | with kappa (s) | speedup |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      `The CPU-bound programs need ≥ 1.5× (the paper's lower bound, "50 % to 200 %"); hello world pays only the fixed cost of placing a program (${fmt(helloOverhead * 1000, 0)} ms here: probe, stream set-up, sandbox).`,
      ''
    ].join('\n')
    return { markdown, speedups, helloOverhead }
  } finally {
    await cluster?.stop()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  requireRoot('bench/paper-table2')
  runTable2().then((r) => { process.stdout.write(r.markdown) }, (err) => { console.error(err); process.exitCode = 1 })
}
