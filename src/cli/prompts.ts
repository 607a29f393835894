import confirm from '@inquirer/confirm'
import { errorMessage } from '../errors.js'
import type { Daemon, DaemonEvent } from '../daemon/index.js'

type Question = Extract<DaemonEvent, { type: 'pair-request' | 'discovered' }>

/** What the prompts use of a running daemon. */
export type PromptDaemon = Pick<Daemon, 'events' | 'log' | 'pairing' | 'trust' | 'nearby'>

/** A yes/no question on the terminal (default no). */
export type Ask = (message: string) => Promise<boolean>

const askOnTerminal: Ask = async (message) => await confirm({ message, default: false })

/**
 * On an interactive `start`, ask the owner about pairing requests and LAN
 * suggestions, one question at a time: first those that arrived before the
 * banner, then new ones. While a question is open the log holds its lines
 * (they would be printed over the question) and prints them after the
 * answer. Declining does nothing: a request stays listed in `kappa-node
 * requests` until it expires.
 */
export function promptOnEvents (daemon: PromptDaemon, confirmOnTerminal: Ask = askOnTerminal, say: (line: string) => void = (line) => { process.stdout.write(`${line}\n`) }): void {
  const queue: Question[] = []
  const asked = new Set<string>()
  let busy = false

  const next = async (): Promise<void> => {
    if (busy) return
    busy = true
    try {
      for (let e = queue.shift(); e != null; e = queue.shift()) {
        daemon.log.hold()
        try {
          await ask(e)
        } finally {
          daemon.log.release()
        }
      }
    } finally {
      busy = false
    }
  }

  const add = (e: Question): void => {
    // one question per node and kind (mDNS repeats itself; a request may be re-sent)
    const key = `${e.type}:${e.id}`
    if (asked.has(key)) return
    if (e.type === 'discovered' && daemon.trust.get(e.id) != null) return
    asked.add(key)
    queue.push(e)
    void next()
  }

  const ask = async (e: Question): Promise<void> => {
    try {
      if (e.type === 'pair-request') {
        if (!daemon.pairing.requests().some(r => r.id === e.id)) return // accepted or expired meanwhile
        const yes = await confirmOnTerminal(`Pair with ${e.alias ?? 'unnamed node'} ${e.id} (${e.addrs[0] ?? 'no address'})?`)
        if (yes) {
          const r = await daemon.pairing.accept(e.id)
          say(`paired with ${r.alias ?? r.id}`)
        }
      } else if (e.addrs.length > 0) {
        if (daemon.trust.get(e.id) != null) return
        const yes = await confirmOnTerminal(`Found kappa node ${e.id} on the LAN. Ask it to pair?`)
        if (yes) {
          const r = await daemon.pairing.pair(e.addrs[0])
          say(r.status === 'paired' ? `paired with ${r.alias ?? r.id}` : 'request sent; waiting for its owner to accept')
        }
      }
    } catch (err) {
      say(errorMessage(err))
    }
  }

  daemon.events.subscribe((e) => {
    if (e.type === 'pair-request' || e.type === 'discovered') add(e)
  })
  // what arrived before the banner: the events were logged, nobody asked yet
  for (const r of daemon.pairing.requests()) add({ type: 'pair-request', id: r.id, alias: r.alias, addrs: r.addrs })
  for (const n of daemon.nearby.list()) add({ type: 'discovered', id: n.id, addrs: n.addrs })
}
