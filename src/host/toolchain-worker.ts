/**
 * Toolchain worker: the heavy, synchronous part of the toolchain identity
 * (hashing thousands of headers, asking a driver, the loader's list) off the
 * daemon's main thread. Long-lived, so that its per-file hash cache (by
 * path, size, mtime, inode) stays warm between requests.
 */
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { compareOwnFiles, decodeManifest, identityChecks, manifestOf, stillValid, type Check, type WorkerRequest, type WorkerReply } from './toolchain-cache.js'
import { persistCaches, recall, remember, saveCaches, toolchainIdentity, type ToolchainIdentity } from './toolchain.js'
import { debugLogger } from '../debug.js'
import { errorMessage } from '../errors.js'

const debug = debugLogger('host:toolchain-worker')

const port = parentPort
if (port == null) throw new Error('host/toolchain-worker.js must run in a worker thread')

// below the daemon's own thread (on Linux a thread's nice value is its own): its peers hear from it meanwhile
try { setPriority(10) } catch (err) { debug('%s: %s', 'lowering the worker\'s priority', errorMessage(err)) }

const cacheFile = (workerData as { cacheFile?: string } | undefined)?.cacheFile
if (cacheFile != null) persistCaches(cacheFile)

/** A kept result whose checks still hold, else `compute` again (and keep it). */
function cached<T extends { checks: Check[] }> (key: string, again: boolean, compute: () => T): T {
  const hit = again ? undefined : recall(key) as T | undefined
  if (hit != null && Array.isArray(hit.checks) && stillValid(hit.checks)) return hit
  const fresh = compute()
  remember(key, fresh)
  return fresh
}

port.on('message', (req: WorkerRequest) => {
  try {
    if (req.type === 'identify') {
      const r = cached<{ identity: ToolchainIdentity, checks: Check[] }>(`id:${req.path}\0${req.name}`, req.again === true, () => {
        const identity = toolchainIdentity(req.path, { name: req.name })
        return { identity, checks: identityChecks(identity, req.path) }
      })
      // encoded here: the daemon's thread gets bytes, not 8 000 objects
      const manifest = manifestOf(r.identity)
      port.postMessage({ id: req.id, type: 'identity', digest: manifest.digest, bytes: manifest.bytes, checks: r.checks } satisfies WorkerReply)
    } else if (req.type === 'check') {
      port.postMessage({ id: req.id, type: 'checked', valid: stillValid(req.checks) } satisfies WorkerReply)
      return
    } else {
      const r = cached(`cmp:${req.digest}`, req.again === true, () => compareOwnFiles(decodeManifest(req.bytes, req.digest).files))
      port.postMessage({ id: req.id, type: 'compared', ...r } satisfies WorkerReply)
    }
  } catch (err) {
    port.postMessage({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply)
  }
  saveCaches()
})
