import { resolveHome } from '../home/index.js'
import { startDaemon, type DaemonEvent } from '../daemon/index.js'
import { VERSION } from '../constants.js'
import { errorMessage } from '../errors.js'

export interface StartOptions {
  home?: string
  json?: boolean
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
  allowNetwork?: boolean
  sandbox?: boolean
  ticketTtl?: number
  hopCost?: number
  pendingAccounting?: boolean
  http?: string | false
  httpHost?: string[]
  bulkPort?: number
  bulk?: boolean
}

/** `kappa-node start`: the foreground daemon, until SIGINT / SIGTERM. */
export async function startCommand (opts: StartOptions): Promise<number> {
  const json = opts.json === true
  const daemon = await startDaemon({
    home: resolveHome(opts.home),
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
    maxJobs: opts.maxJobs,
    jobWallMs: opts.jobTimeout != null ? opts.jobTimeout * 1000 : undefined,
    jobMemoryBytes: opts.jobMemory,
    allowNetwork: opts.allowNetwork,
    noSandbox: opts.sandbox === false,
    ticketTtlMs: opts.ticketTtl,
    hopCost: opts.hopCost,
    pendingAccounting: opts.pendingAccounting,
    http: opts.http,
    httpHosts: opts.httpHost,
    bulkPort: opts.bulk === false ? false : opts.bulkPort
  })
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
      daemon.stop()
        .then(() => { resolve(0) })
        .catch((err) => {
          process.stderr.write(`kappa-node: error while stopping: ${errorMessage(err)}\n`)
          resolve(1)
        })
    }
    process.on('SIGINT', () => { stop('SIGINT') })
    process.on('SIGTERM', () => { stop('SIGTERM') })
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
