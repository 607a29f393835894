/**
 * `npm run bench:paper`: Tables II and III and the makespan experiment in one
 * run, written to bench/RESULTS.md (with the date and the machine) and
 * bench/results/makespan.svg. Needs root (namespaces, cgroups).
 */
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO } from '../test/helpers/node.js'
import { machine, requireRoot, fmt } from './lib/paper.js'
import { runTable2 } from './paper-table2.js'
import { runTable3 } from './paper-table3.js'
import { runMakespan } from './makespan.js'
import { keptSections } from './lib/results.js'

async function main (): Promise<void> {
  requireRoot('npm run bench:paper')
  const started = new Date()
  const t2 = await runTable2()
  const t3 = await runTable3()
  const ms = await runMakespan()
  const cpuBound = Object.entries(t2.speedups).filter(([name]) => name !== 'hello world')
  const summary = [
    `- Table II: CPU-bound programs ${cpuBound.map(([n, s]) => `${n} ${fmt(s, 2)}×`).join(', ')} faster with kappa (target ≥ 1.5×); hello world costs ${fmt(t2.helloOverhead * 1000, 0)} ms more.`,
    `- Table III: in one probe round, ${t3.staleWith} stale landing(s) with pending-work accounting, ${t3.staleWithout} without.`,
    `- Makespan: kappa at ${fmt(ms.kappaRatio, 2)}× the ideal (target ≤ 1.25×).`
  ]
  const doc = [
    '# kappa-node — the paper\'s experiments on this implementation',
    '',
    `All figures below come from one run of \`npm run bench:paper\`, started ${started.toISOString()} and finished ${new Date().toISOString()}, on ${machine()} (hosts emulated with network namespaces and cgroup CPU quotas; see README "Test clusters").`,
    '',
    ...summary,
    '',
    t2.markdown,
    t3.markdown,
    ms.markdown
  ].join('\n')
  await mkdir(join(REPO, 'bench/results'), { recursive: true })
  await writeFile(join(REPO, 'bench/results/makespan.svg'), ms.svg)
  // sections other benches keep in RESULTS.md (bench/build) stay
  await writeFile(join(REPO, 'bench/RESULTS.md'), doc + await keptSections(join(REPO, 'bench/RESULTS.md')))
  process.stdout.write(doc)
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
