import { shortId, label } from '../names.js'
import type { DaemonEvent, DaemonEvents } from '../events.js'

/** Human lines (`HH:MM:SS text`) or, with --json, one JSON object per line. */
export function createEventLog (json: boolean, out: NodeJS.WritableStream = process.stdout): DaemonEvents {
  const listeners: Array<(e: DaemonEvent) => void> = []
  return {
    subscribe (listener) { listeners.push(listener) },
    emit (event) {
      if (json) {
        out.write(redactInvites(JSON.stringify({ time: new Date().toISOString(), ...event })) + '\n')
      } else {
        const text = describe(event)
        if (text != null) out.write(`${new Date().toTimeString().slice(0, 8)} ${redactInvites(text)}\n`)
      }
      for (const l of listeners) {
        try { l(event) } catch {}
      }
    }
  }
}

function describe (e: DaemonEvent): string | undefined {
  switch (e.type) {
    case 'ready': return undefined // the banner says it
    case 'paired': return `paired with ${label(e.id, e.alias)} (${e.via})`
    case 'unpaired': return e.by === 'us' ? `unpaired ${label(e.id, e.alias)}` : `${label(e.id, e.alias)} unpaired us`
    case 'pair-request': return `pairing request from ${label(e.id, e.alias)}; to accept run: kappa-node accept ${e.id}`
    case 'discovered': return `found unpaired kappa node ${shortId(e.id)} on the LAN; to pair run: kappa-node pair ${e.addrs[0] ?? e.id}`
    case 'connected': return `connected to ${label(e.id, e.alias)}`
    case 'disconnected': return `disconnected from ${label(e.id, e.alias)}`
    case 'neighbour-expired': return `${label(e.id, e.alias)} went silent: no longer used for routing`
    case 'job-placed': return e.where === 'remote' ? `${e.argv0} → ${label(e.target ?? '', e.alias)} (sysmetric ${e.sysmetric?.toFixed(1) ?? '?'})` : `${e.argv0} runs here (${e.reason ?? 'local is best'})`
    case 'warning': return `warning: ${e.message}`
    case 'info': return e.message
  }
}

/**
 * Logs are kept, copied and shared: an invite token in one would pair
 * whoever reads it. Nothing should put one there; this is the last guard.
 */
export function redactInvites (line: string): string {
  return line.replace(INVITE_TOKEN, '$1…@')
}

const INVITE_TOKEN = /(kappa:)[A-Za-z0-9_-]{8,}@/g
