/**
 * bench/toolchain (issue 13): what the toolchain identity costs a job, on
 * this machine's gcc (`cc`, ~8 000 files, mostly headers).
 *  - origin, cold: a new daemon with no hashes on disk (every header read);
 *  - origin, first job of a new daemon with the machine's hashes on disk;
 *  - origin, per job when warm: the stat revalidation (no freshness window);
 *  - target: the comparison with its own files, first and warm.
 * RUNS (default 20) repetitions of the warm figures; BENCH_SHORT=1 for a quick check.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { ToolchainCache } from '../src/host/toolchain-cache.js'
import { percentile, fmt } from './lib/stats.js'

const SHORT = process.env.BENCH_SHORT === '1'
const RUNS = Number(process.env.RUNS ?? (SHORT ? 5 : 20))
const DRIVER = '/usr/bin/cc'

async function ms (fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

export async function runToolchainBench (): Promise<string> {
  // a private directory: a cache file others could write is not used
  const dir = await mkdtemp(join(tmpdir(), 'kappa-bench-toolchain-'))
  const file = join(dir, 'hashes.json')
  try {
    // per job as a daemon does it: directories watched, the files stat'ed (no freshness window)
    const cold = new ToolchainCache({ cacheFile: file, freshMs: 0 })
    const coldMs = await ms(async () => await cold.manifest(DRIVER, 'cc'))
    const manifest = await cold.manifest(DRIVER, 'cc')
    const warm: number[] = []
    for (let i = 0; i < RUNS; i++) warm.push(await ms(async () => await cold.manifest(DRIVER, 'cc')))
    const checks = cold.stats.lastChecks
    const compareFirst = await ms(async () => await cold.differing(manifest))
    const compareWarm: number[] = []
    for (let i = 0; i < RUNS; i++) compareWarm.push(await ms(async () => await cold.differing(manifest)))
    cold.close()
    // a new daemon: the hashes and results on disk, a new worker
    const fresh = new ToolchainCache({ cacheFile: file, freshMs: 0 })
    const restartMs = await ms(async () => await fresh.manifest(DRIVER, 'cc'))
    fresh.close()
    const rows = [
      `| origin, cold (no hashes anywhere) | ${fmt(coldMs)} ms |`,
      `| origin, first job of a new daemon (hashes on disk) | ${fmt(restartMs)} ms |`,
      `| origin, per job, warm (${checks} stat calls; ~600 directories watched), p50 / p90 | ${fmt(percentile(warm, 0.5), 2)} / ${fmt(percentile(warm, 0.9), 2)} ms |`,
      `| target, first comparison with its own files | ${fmt(compareFirst)} ms |`,
      `| target, per job, warm, p50 / p90 | ${fmt(percentile(compareWarm, 0.5), 2)} / ${fmt(percentile(compareWarm, 0.9), 2)} ms |`
    ]
    return [`## Toolchain identity — ${DRIVER}, ${manifest.files.length} files, manifest ${Math.round(manifest.bytes.byteLength / 1024)} KiB`, '', `${RUNS} runs of the warm figures; ${new Date().toISOString()}.`, '', '| what | cost |', '| --- | ---: |', ...rows, ''].join('\n')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

runToolchainBench().then((md) => { process.stdout.write(md) }, (err) => { console.error(err); process.exitCode = 1 })
