/**
 * Shared helpers of the metric tests: fixture proc roots in temp dirs and a
 * stand-in static score.
 */
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KERNEL_NAMES, KERNEL_REFERENCE_MS } from '../src/metric/constants.js'
import type { StaticScore } from '../src/metric/index.js'

/** test/fixtures/proc in the source tree (tests run from dist/test). */
export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/proc/', import.meta.url))

/** The repository root (bin/kappa-node lives there). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url))

const cleanups: string[] = []

export async function tempDir (prefix = 'kappa-metric-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanups.push(dir)
  return dir
}

/** Remove every temp dir made so far (call from an afterEach/after hook). */
export async function removeTempDirs (): Promise<void> {
  while (cleanups.length > 0) await rm(cleanups.pop() as string, { recursive: true, force: true })
}

/**
 * Copy fixture case `name` to a temp proc root. When the case has two
 * /proc/stat snapshots, the root starts with the earlier one; `advance()`
 * swaps the later one in (pass it as the sampler's `sleep`).
 */
export async function fixtureRoot (name: string): Promise<{ root: string, advance: () => Promise<void> }> {
  const root = await tempDir(`kappa-proc-${name}-`)
  await cp(join(FIXTURES, name), root, { recursive: true })
  const later = join(FIXTURES, name, 'stat')
  try {
    await copyFile(join(FIXTURES, name, 'stat.prev'), join(root, 'stat'))
  } catch {
    // single-snapshot case
  }
  return { root, advance: async () => { await copyFile(later, join(root, 'stat')) } }
}

/** A static score of exactly `score` (every kernel at `score`/100 of its reference). */
export function fakeStaticScore (score = 100, cached = true): StaticScore {
  return {
    score,
    kernels: KERNEL_NAMES.map((name) => {
      const ratio = score / 100
      const refMs = KERNEL_REFERENCE_MS[name]
      return { name, ms: refMs / ratio, refMs, ratio, reps: [refMs / ratio] }
    }),
    cached,
    key: { bootId: 'test', cpuModel: 'test', node: process.version },
    measuredAt: new Date(0).toISOString(),
    kernelsRun: 0,
    othersBusy: 0,
    busy: false,
    clock: 'on-cpu',
    durationMs: 0
  }
}

/** Wait until `cond()` holds (polling), or fail after `ms`. Not a timing assertion: only a bound on waiting. */
export async function waitFor (cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
