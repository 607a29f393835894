/**
 * A daemon in the test's own process (real libp2p, control socket, HTTP),
 * so a test can put events on its bus as src/migrate will. Without bubblewrap
 * it runs jobs unsandboxed, as startNode's daemons do (see sandboxArgs).
 */
import { startDaemon, type Daemon } from '../../src/daemon/index.js'
import { HAS_BWRAP, onCleanup, tmpDir } from './node.js'
import type { JobRecord } from '../../src/events.js'

export async function inProcessDaemon (name: string, extra: Record<string, unknown> = {}): Promise<Daemon> {
  const home = await tmpDir(`kappa-${name}-`)
  const lines: string[] = []
  const logTo = { write: (line: string) => { lines.push(line); return true } } as unknown as NodeJS.WritableStream
  const daemon = await startDaemon({ home, listen: ['/ip4/127.0.0.1/tcp/0'], alias: name, mdns: false, json: true, http: '127.0.0.1:0', metricOverride: 100, logTo, ...HAS_BWRAP ? {} : { noSandbox: true }, ...extra })
  onCleanup(async () => { await daemon.stop() })
  return daemon
}

let next = 0

/** A job record as src/migrate describes one. */
export function jobRecord (daemon: Daemon, extra: Partial<JobRecord> = {}): JobRecord {
  const self = daemon.libp2p.peerId.toString()
  return {
    id: `test-${++next}`,
    direction: 'local',
    origin: self,
    target: self,
    argv: ['sh', '-c', 'echo hello'],
    startedAt: Date.now(),
    bytesSent: { executable: 0, workspace: 0, stdio: 0 },
    bytesReceived: { executable: 0, workspace: 0, stdio: 0 },
    ...extra
  }
}
