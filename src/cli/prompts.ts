import confirm from '@inquirer/confirm'
import { errorMessage } from '../errors.js'
import type { Daemon, DaemonEvent } from '../daemon/index.js'

/**
 * On an interactive `start`, ask the owner about pairing requests and LAN
 * suggestions, one question at a time. Declining does nothing: the request
 * stays listed in `kappa-node requests` until it expires.
 */
export function promptOnEvents (daemon: Daemon): void {
  const queue: DaemonEvent[] = []
  let busy = false

  const next = async (): Promise<void> => {
    if (busy) return
    busy = true
    try {
      for (let e = queue.shift(); e != null; e = queue.shift()) await ask(e)
    } finally {
      busy = false
    }
  }

  const ask = async (e: DaemonEvent): Promise<void> => {
    try {
      if (e.type === 'pair-request') {
        const yes = await confirm({ message: `Pair with ${e.alias ?? 'unnamed node'} ${e.id} (${e.addrs[0] ?? 'no address'})?`, default: false })
        if (yes) {
          const r = await daemon.pairing.accept(e.id)
          process.stdout.write(`paired with ${r.alias ?? r.id}\n`)
        }
      } else if (e.type === 'discovered' && e.addrs.length > 0) {
        const yes = await confirm({ message: `Found kappa node ${e.id} on the LAN. Ask it to pair?`, default: false })
        if (yes) {
          const r = await daemon.pairing.pair(e.addrs[0])
          process.stdout.write(r.status === 'paired' ? `paired with ${r.alias ?? r.id}\n` : 'request sent; waiting for its owner to accept\n')
        }
      }
    } catch (err) {
      process.stdout.write(`${errorMessage(err)}\n`)
    }
  }

  daemon.events.subscribe((e) => {
    if (e.type === 'pair-request' || e.type === 'discovered') {
      queue.push(e)
      void next()
    }
  })
}
