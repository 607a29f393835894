/**
 * `kappa-node metric [--window MS] [--json] [--rebench]`: measure and print
 * this machine's system metric without a daemon. The static score comes from
 * the benchmark cache in $KAPPA_HOME when this boot already ran it;
 * `--rebench` measures it again (through the running node, if there is one,
 * so that the node uses the new score).
 */
import { existsSync } from 'node:fs'
import { NotRunningError, UserError } from '../errors.js'
import { callDaemon } from '../control/client.js'
import { createProgressLine } from '../progress.js'
import { BENCHMARK_TIMEOUT_MS } from './constants.js'
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
  /** measure the CPU again, ignoring the cache */
  rebench?: boolean
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

  if (opts.rebench === true && opts.procRoot === '/proc') {
    const done = await rebenchRunningNode(home, opts, out)
    if (done != null) return done
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
    if (opts.rebench === true) await sampler.rebench()
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
        busy: score?.busy,
        othersBusy: score?.othersBusy,
        clock: score?.clock,
        key: score?.key,
        cacheFile: homeFile(home, 'benchmark')
      }
    }, null, 2)}\n`)
  } else {
    out.stdout.write(`${formatBreakdown(breakdown, score)}\n`)
  }
  return 0
}

/**
 * `--rebench` with a node running on this home: the node measures (and
 * then uses the new score). Undefined when no node runs: measure here.
 */
async function rebenchRunningNode (home: string, opts: MetricCommandOptions, out: CommandOutput): Promise<number | undefined> {
  let r: any
  try {
    if (!opts.json) out.stderr.write('kappa-node: the node running on this home measures the CPU again (a few seconds)…\n')
    r = await callDaemon(home, 'rebench', {}, BENCHMARK_TIMEOUT_MS + 10_000)
  } catch (err) {
    if (err instanceof NotRunningError) return undefined
    throw err
  }
  if (opts.json) {
    out.stdout.write(JSON.stringify(r, null, 2) + '\n')
  } else {
    const lines = [`static score S = ${Number(r.static).toFixed(1)}, measured in ${(Number(r.durationMs) / 1000).toFixed(1)} s${r.busy === true ? ` while other programs used ${Math.round(100 * Number(r.othersBusy))} % of the CPUs (the node measures again when the machine is idle)` : ''}`]
    if (r.metric != null) lines.push(formatBreakdown(r.metric, { measuredAt: r.measuredAt, kernelsRun: 0, durationMs: r.durationMs }))
    if (r.pinned === true) lines.push('(the node\'s advertised value is pinned: kappa-node pin off to use the measured one)')
    out.stdout.write(lines.join('\n') + '\n')
  }
  return 0
}

function asUserError (err: unknown): Error {
  if (err instanceof ProcError) return new UserError(`cannot read the system metric: ${err.message}`)
  return err as Error
}

/**
 * Progress of the benchmark (the only slow step): a progress line on a
 * terminal, two plain lines otherwise (logs stay readable).
 */
function createProgress (stream: CommandOutput['stderr']): {
  update: (p: { kernel: string, done: number, total: number }) => void
  clear: () => void
  finish: (benchmarkMs?: number) => void
} {
  const line = createProgressLine(stream, { label: 'benchmarking the CPU', unit: 'steps' })
  let started = 0
  return {
    update (p) {
      if (started === 0) {
        started = Date.now()
        if (!line.active) stream.write('kappa-node: benchmarking the CPU (first run since boot, a few seconds)...\n')
      }
      line.update(p.done, p.total, p.kernel)
    },
    clear () {
      line.clear()
    },
    finish (benchmarkMs) {
      line.clear()
      if (started !== 0) {
        const ms = benchmarkMs ?? Date.now() - started
        stream.write(`kappa-node: benchmark done in ${(ms / 1000).toFixed(1)} s (kept until reboot; kappa-node metric --rebench measures again)\n`)
        started = 0
      }
    }
  }
}
