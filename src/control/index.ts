/**
 * The local control socket: a Unix socket (mode 0600) in `$KAPPA_HOME` that
 * every subcommand but `start` and `metric` talks to. One JSON line in
 * (`{method, params}`), one JSON line out (`{ok, result}` or `{ok, error}`).
 * Methods that stream (job I/O) take over the socket after the first line.
 */
import type { ErrorCode } from '../errors.js'

export interface ControlRequest {
  method: string
  params?: Record<string, unknown>
}

export type ControlResponse = { ok: true, result: unknown } | { ok: false, error: string, code?: ErrorCode }

/** `signal` aborts when the client hangs up before the answer (its Ctrl-C): pass it to every read and write. */
export type ControlMethod = (params: Record<string, unknown>, options: { signal: AbortSignal }) => Promise<unknown>

export { startControlServer } from './server.js'
export type { ControlServer, ControlServerInit, StreamingMethod } from './server.js'
export { callDaemon, openDaemonSocket, notRunningMessage } from './client.js'
export type { ControlMethods, ControlMethodName, ControlHandlers, ParamsOf, ResultOf, StatusDocument, ProbeAnswer, PairAnswer, PairedPeer, PairRequestEntry, NearbyEntry, NeighbourEntry, JobEntry, JobSandboxEntry, PeerAddrs, RebenchAnswer } from './methods.js'
export { removeStaleSocket } from './server.js'
