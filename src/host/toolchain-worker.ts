/**
 * Toolchain worker: the heavy, synchronous part of the toolchain identity
 * (hashing thousands of headers, asking a driver, the loader's list) off the
 * daemon's main thread. Long-lived, so that its per-file hash cache (by
 * path, size, mtime, inode) stays warm between requests.
 */
import { parentPort } from 'node:worker_threads'
import { compareOwnFiles, type WorkerRequest, type WorkerReply } from './toolchain-cache.js'
import { toolchainIdentity } from './toolchain.js'

const port = parentPort
if (port == null) throw new Error('host/toolchain-worker.js must run in a worker thread')

port.on('message', (req: WorkerRequest) => {
  try {
    if (req.type === 'identify') {
      port.postMessage({ id: req.id, type: 'identity', identity: toolchainIdentity(req.path, { name: req.name }) } satisfies WorkerReply)
    } else {
      port.postMessage({ id: req.id, type: 'compared', ...compareOwnFiles(req.files) } satisfies WorkerReply)
    }
  } catch (err) {
    port.postMessage({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply)
  }
})
