import { resolveHome, homeFile } from '../home/index.js'
import { startDaemon, type DaemonEvent } from '../daemon/index.js'
import { VERSION } from '../constants.js'
import { errorMessage } from '../errors.js'
import { createProgressLine, type ProgressLine } from '../progress.js'
import { readConfigFile, resolveSettings, type SourceOf } from './config.js'

export interface StartOptions {
  home?: string
  json?: boolean
  config?: string
  listen?: string[]
  alias?: string
  mdns?: boolean
  mdnsInterval?: number
  mdnsPort?: number
  pairRequests?: boolean
  delay?: number
  metricOverride?: number
  splitHorizon?: boolean
  proc?: string
  maxJobs?: number
  jobTimeout?: number
  jobMemory?: number
  jobPids?: number
  jobsDir?: string
  jobDiskFloor?: number
  bwrap?: string
  allowNetwork?: boolean
  sandbox?: boolean
  ticketTtl?: number
  hopCost?: number
  pendingAccounting?: boolean
  metricInterval?: number
  http?: string | false
  httpHost?: string[]
  bulkPort?: number
  bulk?: boolean
}

/**
 * `kappa-node start`: the foreground daemon, until SIGINT / SIGTERM. SIGHUP
 * measures the CPU again (as `kappa-node metric --rebench` does).
 */
export async function startCommand (flags: StartOptions, sourceOf: SourceOf = () => undefined): Promise<number> {
  const home = resolveHome(flags.home)
  const configFile = flags.config ?? (process.env.KAPPA_CONFIG != null && process.env.KAPPA_CONFIG !== '' ? process.env.KAPPA_CONFIG : homeFile(home, 'config'))
  const opts = resolveSettings(flags as Record<string, unknown>, sourceOf, process.env, await readConfigFile(configFile)) as StartOptions
  const json = opts.json === true
  // the first benchmark since boot takes a few seconds: a progress line on a terminal's stderr
  let progress: ProgressLine | undefined
  const daemon = await startDaemon({
    home,
    listen: opts.listen,
    alias: opts.alias,
    mdns: opts.mdns,
    mdnsIntervalMs: opts.mdnsInterval,
    mdnsPort: opts.mdnsPort,
    acceptPairRequests: opts.pairRequests,
    json,
    delayMs: opts.delay,
    metricOverride: opts.metricOverride,
    splitHorizon: opts.splitHorizon,
    procRoot: opts.proc,
    metricIntervalMs: opts.metricInterval,
    maxJobs: opts.maxJobs,
    jobWallMs: opts.jobTimeout != null ? opts.jobTimeout * 1000 : undefined,
    jobMemoryBytes: opts.jobMemory,
    jobLimits: { pids: opts.jobPids, bwrap: opts.bwrap, jobsDir: opts.jobsDir, diskFloorBytes: opts.jobDiskFloor },
    allowNetwork: opts.allowNetwork,
    noSandbox: opts.sandbox === false,
    ticketTtlMs: opts.ticketTtl,
    hopCost: opts.hopCost,
    pendingAccounting: opts.pendingAccounting,
    http: opts.http,
    httpHosts: opts.httpHost,
    bulkPort: opts.bulk === false ? false : opts.bulkPort,
    onBenchmarkProgress: (p) => {
      if (json) return
      if (p == null) {
        progress?.done()
        progress = undefined
        return
      }
      progress ??= createProgressLine(process.stderr, { label: 'benchmarking the CPU', unit: 'steps' })
      progress.update(p.done, p.total)
    }
  })
  // a log line clears the progress line first; the next update draws it again below
  daemon.log.beforeWrite(() => { progress?.clear() })
  // an invite is a live secret: shown on a terminal, never written where output is kept (a log, a journal)
  const onTerminal = process.stdout.isTTY === true
  if (!json) printBanner(daemon.libp2p.peerId.toString(), daemon.libp2p.getMultiaddrs().map(String), onTerminal ? daemon.invite().invite : undefined, daemon.home, daemon.dashboard)

  const interactive = !json && process.stdin.isTTY === true && process.stdout.isTTY === true
  if (interactive) {
    const { promptOnEvents } = await import('./prompts.js')
    promptOnEvents(daemon)
  }

  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`kappa-node: ${signal} again, exiting now\n`)
        process.exit(1)
      }
      stopping = true
      daemon.log.release()
      daemon.events.emit({ type: 'info', message: `stopping (${signal})` })
      daemon.stop()
        .then(() => {
          daemon.events.emit({ type: 'info', message: 'stopped' })
          resolve(0)
        })
        .catch((err) => {
          process.stderr.write(`kappa-node: error while stopping: ${errorMessage(err)}\n`)
          resolve(1)
        })
    }
    process.on('SIGINT', () => { stop('SIGINT') })
    process.on('SIGTERM', () => { stop('SIGTERM') })
    process.on('SIGHUP', () => {
      if (stopping) return
      daemon.rebench().catch((err) => { daemon.events.emit({ type: 'warning', message: `metric: measuring the CPU again failed: ${errorMessage(err)}` }) })
    })
  })
}

function printBanner (id: string, addrs: string[], invite: string | undefined, home: string, dashboard?: string): void {
  const lines = [
    `kappa-node ${VERSION} running (home ${home})${dashboard != null ? `, dashboard ${dashboard}` : ''}`,
    `peer id   ${id}`,
    'listening',
    ...addrs.map(a => `  ${a}`),
    ...invite != null
      ? ['to pair another machine, run there (one use, valid 10 min; `kappa-node invite` makes more):', `  kappa-node pair '${invite}'`]
      : ['to pair another machine, run `kappa-node invite` here and paste its line there (not shown here: this output is not a terminal)']
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

export type { DaemonEvent }
