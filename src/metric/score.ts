/**
 * The static score S as the sampler holds it: measured (or read from the
 * cache) once, measured again on request (`metric --rebench`, SIGHUP), and
 * measured again by itself when it was taken on a busy machine and the
 * machine has since gone idle.
 */
import { REBENCH_IDLE_FRACTION, REBENCH_RETRY_MS } from './constants.js'
import type { BenchmarkRequest, StaticScore } from './index.js'
import { debugLogger, logged } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('metric')

export interface ScoreKeeperInit {
  benchmark: (request?: BenchmarkRequest) => Promise<StaticScore>
  now: () => number
  log: (line: string) => void
  /** S changed after a re-measurement: the breakdown built on it is out of date */
  onChange: () => void
}

export interface ScoreKeeper {
  /** S, once measured */
  current: () => StaticScore | undefined
  /** S, measuring it first (once, however many callers wait) */
  ensure: () => Promise<StaticScore>
  /**
   * Measure S again. `keepBetter`: an automatic retry of a busy score keeps
   * the old one unless the new run was quiet or scored higher (load only
   * ever makes the benchmark slower).
   */
  remeasure: (keepBetter: boolean) => Promise<StaticScore>
  /** A sample saw the CPUs `fIdle` idle: a score taken on a busy machine is measured again once the machine is idle. */
  retryWhenIdle: (fIdle: number) => void
  /** a benchmark is running */
  measuring: () => boolean
}

export function createScoreKeeper (init: ScoreKeeperInit): ScoreKeeper {
  const { benchmark, now, log } = init
  let score: StaticScore | undefined
  let scoring: Promise<StaticScore> | undefined
  /** a re-measurement in progress (rebench, or a busy score measured again) */
  let rescoring: Promise<StaticScore> | undefined
  /** when a score taken on a busy machine may next be measured again */
  let nextRetry = now() + REBENCH_RETRY_MS

  async function ensure (): Promise<StaticScore> {
    if (score !== undefined) return score
    scoring ??= benchmark().finally(() => { scoring = undefined })
    score = await scoring
    return score
  }

  async function remeasure (keepBetter: boolean): Promise<StaticScore> {
    if (scoring !== undefined) await scoring.catch(logged(debug, 'the running benchmark (reported by its caller)'))
    rescoring ??= (async () => {
      const fresh = await benchmark({ fresh: true })
      const old = score
      if (!keepBetter || old === undefined || !fresh.busy || fresh.score > old.score) score = fresh
      else log(`metric: measured S = ${fresh.score.toFixed(1)} on a busy machine again; keeping ${old.score.toFixed(1)}`)
      if (score === fresh) log(describeScore(fresh))
      init.onChange()
      return score ?? fresh
    })().finally(() => { rescoring = undefined; nextRetry = now() + REBENCH_RETRY_MS })
    return await rescoring
  }

  function retryWhenIdle (fIdle: number): void {
    if (score?.busy !== true || rescoring !== undefined || now() < nextRetry) return
    if (fIdle < REBENCH_IDLE_FRACTION) return
    remeasure(true).catch((err) => { log(`metric: measuring the CPU again failed: ${errorMessage(err)}`) })
  }

  return {
    current: () => score,
    ensure,
    remeasure,
    retryWhenIdle,
    measuring: () => scoring !== undefined || rescoring !== undefined
  }
}

/** S as one line for the node's log: where it came from, and whether it will be measured again. */
export function describeScore (s: StaticScore): string {
  return s.cached
    ? `metric: static score S = ${s.score.toFixed(1)} (benchmarked ${s.measuredAt}, cached for this boot${s.busy ? '; the machine was busy then: measuring again when it is idle' : ''})`
    : `metric: static score S = ${s.score.toFixed(1)} (benchmarked in ${(s.durationMs / 1000).toFixed(1)} s: ${s.kernels.map((k) => `${k.name} ×${k.ratio.toFixed(2)}`).join(', ')}${s.busy ? `; other programs used ${Math.round(100 * s.othersBusy)} % of the CPUs meanwhile: measuring again when the machine is idle` : ''})`
}
