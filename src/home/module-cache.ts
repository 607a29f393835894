import { mkdirSync } from 'node:fs'
import { enableCompileCache, flushCompileCache } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { unsafeAncestor } from './safe-path.js'
import { errorMessage } from '../errors.js'
import { enableResolveCache, resolveCacheFile } from './resolve-cache.js'

/**
 * Where Node keeps the compiled code of kappa's modules between runs:
 * `$XDG_CACHE_HOME/kappa-node/modules`, else `~/.cache/kappa-node/modules`.
 */
export function moduleCacheDir (env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME != null && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'kappa-node', 'modules')
}

/** What enableModuleCache did. */
export interface ModuleCache {
  /** the directory used */
  dir?: string
  /** why there is no cache */
  skipped?: string
  /** keeps the compiled code and where this run's imports led (call once the modules are loaded); why the latter was not kept, if it was not */
  save: () => string | undefined
}

/**
 * Node's on-disk compile cache for the modules loaded after this call (the
 * daemon's ~650, libp2p's), so a start reuses V8's compiled code instead of
 * compiling every module again, and the resolve cache beside it
 * (resolve-cache.ts: where each import led). Node checks each compiled
 * entry against its source's hash and its own version, so an edited or
 * upgraded module is compiled anew. Both caches decide what code runs, so
 * only a directory nobody else can write is used (a daemon may run as
 * root); otherwise, or with NODE_DISABLE_COMPILE_CACHE=1, modules are
 * found and compiled as before.
 */
export function enableModuleCache (entry: 'start', dir = moduleCacheDir()): ModuleCache {
  const none = (skipped: string): ModuleCache => ({ skipped, save: () => skipped })
  if (process.env.NODE_DISABLE_COMPILE_CACHE != null && process.env.NODE_DISABLE_COMPILE_CACHE !== '') return none('NODE_DISABLE_COMPILE_CACHE is set')
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    return none(`cannot make ${dir}: ${errorMessage(err)}`)
  }
  const unsafe = unsafeAncestor(dir)
  if (unsafe != null) return none(unsafe)
  const r = enableCompileCache(dir)
  if (r.directory == null) return none(r.message ?? `status ${r.status}`)
  const resolved = enableResolveCache(resolveCacheFile(dir, entry))
  return {
    dir,
    save: () => {
      // now, not at exit: a daemon killed (SIGKILL) never exits
      flushCompileCache()
      try {
        return resolved.save() ? undefined : 'nothing new, or files changed meanwhile'
      } catch (err) {
        return `cannot write the resolve cache: ${errorMessage(err)}`
      }
    }
  }
}
