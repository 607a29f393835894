/**
 * Benchmark worker: runs the kernels off the daemon's main thread (they take
 * about 1.5 s of CPU) and reports progress and the timings by message.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { measureKernels, type MeasurePlan } from './measure.js'

export type WorkerMessage =
  | { type: 'progress', kernel: string, done: number, total: number }
  | { type: 'result', measurement: ReturnType<typeof measureKernels> }
  | { type: 'error', message: string }

const port = parentPort
if (port == null) throw new Error('metric/worker.js must run in a worker thread')

try {
  const measurement = measureKernels(workerData as MeasurePlan, (p) => {
    port.postMessage({ type: 'progress', ...p } satisfies WorkerMessage)
  })
  port.postMessage({ type: 'result', measurement } satisfies WorkerMessage)
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage)
}
