import { yamux } from '@chainsafe/libp2p-yamux'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { debugLogger } from '../debug.js'

const debug = debugLogger('muxer')

/** What the window rule reads of a stream (private in yamux's typings). */
interface ReceiveWindow { state: StreamState, recvWindow: unknown, recvWindowCapacity: unknown }

let applied: boolean | undefined

/**
 * yamux as the daemon uses it: a stream grants its peer more window once
 * half of it is used up, not after every data frame.
 *
 * js-libp2p's yamux (8.0.1) answers every data frame it receives with a
 * window update frame: one more Noise message and one more socket write
 * each way for every gossip message, and for every frame of a job's stdio
 * and change set. A received gossip message cost a daemon ~1.4 ms of CPU, a
 * quarter of it that answer (docs/builds.md). go-yamux and rust-yamux wait
 * until half the window is used (go-yamux: `GrowTo`, rust-yamux #100);
 * yamux's spec leaves when to send to the receiver. The sender can always
 * send the other half, so nothing stalls, and a window grows by the same
 * rule (doubled when half of it went within four round trips).
 *
 * Applied once, to yamux's stream class; a yamux whose stream does not look
 * like 8.0's keeps its own rule (a debug line says so).
 */
export function kappaYamux (): ReturnType<typeof yamux> {
  applied ??= lazyWindowUpdates()
  return yamux()
}

function lazyWindowUpdates (): boolean {
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate?: (this: ReceiveWindow) => void }
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') {
    debug('yamux streams have no sendWindowUpdate: its own window rule stays')
    return false
  }
  proto.sendWindowUpdate = function (this: ReceiveWindow): void {
    // Established: no flag (SYN, ACK) is owed, so the frame would carry only window
    if (this.state === StreamState.Established && typeof this.recvWindow === 'number' && typeof this.recvWindowCapacity === 'number' &&
      this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    original.call(this)
  }
  return true
}
