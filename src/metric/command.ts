/**
 * `kappa-node metric [--window MS] [--json]`: measure and print this machine's
 * system metric without a daemon. The static score comes from the benchmark
 * cache in $KAPPA_HOME when this boot already ran it.
 */
import { existsSync } from 'node:fs'
import { UserError } from '../errors.js'
import { ensureHome, homeFile, resolveHome } from '../home/index.js'
import { MIN_WINDOW_MS } from './constants.js'
import { formatBreakdown } from './format.js'
import { ProcError, createProcReader } from './proc.js'
import { createMetricSampler } from './sampler.js'

export interface MetricCommandOptions {
  home?: string
  windowMs: number
  json: boolean
  procRoot: string
}

export interface CommandOutput {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

export async function runMetricCommand (opts: MetricCommandOptions, out: CommandOutput = process): Promise<number> {
  if (!Number.isFinite(opts.windowMs) || opts.windowMs < MIN_WINDOW_MS) {
    throw new UserError(`--window must be at least ${MIN_WINDOW_MS} ms (USER_HZ is 100: shorter windows see a handful of jiffies), got ${opts.windowMs}`)
  }
  if (!existsSync(opts.procRoot)) throw new UserError(`proc root ${opts.procRoot} does not exist`)
  // Check /proc before anything slow: a bad proc root is one clear line, not a benchmark run first.
  const proc = createProcReader(opts.procRoot)
  try {
    proc.stat()
    proc.meminfo()
  } catch (err) {
    throw asUserError(err)
  }

  const home = resolveHome(opts.home)
  try {
    await ensureHome(home)
  } catch (err) {
    throw new UserError(`cannot create the kappa home ${home}: ${(err as Error).message}`)
  }

  const progress = createProgress(out.stderr)
  const sampler = createMetricSampler({
    procRoot: opts.procRoot,
    cacheFile: homeFile(home, 'benchmark'),
    windowMs: opts.windowMs,
    onProgress: progress.update,
    log: (line) => { progress.clear(); out.stderr.write(`${line}\n`) }
  })
  let breakdown
  try {
    breakdown = await sampler.sample()
  } catch (err) {
    throw asUserError(err)
  } finally {
    progress.finish(sampler.staticScore()?.durationMs)
  }
  const score = sampler.staticScore()
  if (opts.json) {
    out.stdout.write(`${JSON.stringify({
      ...breakdown,
      benchmark: {
        cached: score?.cached ?? false,
        kernelsRun: score?.kernelsRun ?? 0,
        durationMs: score?.durationMs,
        measuredAt: score?.measuredAt,
        key: score?.key,
        cacheFile: homeFile(home, 'benchmark')
      }
    }, null, 2)}\n`)
  } else {
    out.stdout.write(`${formatBreakdown(breakdown, score)}\n`)
  }
  return 0
}

function asUserError (err: unknown): Error {
  if (err instanceof ProcError) return new UserError(`cannot read the system metric: ${err.message}`)
  return err as Error
}

/**
 * Progress of the benchmark (the only slow step): an updating line on a
 * terminal, two plain lines otherwise (logs stay readable).
 */
function createProgress (stream: CommandOutput['stderr']): {
  update: (p: { kernel: string, done: number, total: number }) => void
  clear: () => void
  finish: (benchmarkMs?: number) => void
} {
  const tty = stream.isTTY === true
  let started = 0
  let shown = false
  return {
    update (p) {
      if (started === 0) {
        started = Date.now()
        if (!tty) stream.write('kappa-node: benchmarking the CPU (first run since boot, under 2 s)...\n')
      }
      if (tty) {
        stream.write(`\r\x1b[Kbenchmarking the CPU (first run since boot): ${p.kernel} ${p.done}/${p.total}`)
        shown = true
      }
    },
    clear () {
      if (shown) { stream.write('\r\x1b[K'); shown = false }
    },
    finish (benchmarkMs) {
      this.clear()
      if (started !== 0) {
        const ms = benchmarkMs ?? Date.now() - started
        stream.write(`kappa-node: benchmark done in ${(ms / 1000).toFixed(1)} s (cached until reboot)\n`)
        started = 0
      }
    }
  }
}
