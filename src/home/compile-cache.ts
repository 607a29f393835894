import { mkdirSync } from 'node:fs'
import { enableCompileCache } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { unsafeAncestor } from './safe-path.js'

/**
 * Where Node keeps the compiled code of kappa's modules between runs:
 * `$XDG_CACHE_HOME/kappa-node/modules`, else `~/.cache/kappa-node/modules`.
 */
export function compileCacheDir (env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME != null && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'kappa-node', 'modules')
}

/**
 * Node's on-disk compile cache for the modules loaded after this call (the
 * daemon's ~650, libp2p's), so a start reuses V8's compiled code instead of
 * compiling every module again. Node checks each entry against its source's
 * hash and its own version, so an edited or upgraded module is compiled
 * anew. The cache is code the process runs, so only a directory nobody
 * else can write is used (a daemon may run as root); otherwise, or with
 * NODE_DISABLE_COMPILE_CACHE=1, modules are compiled as before. Returns the
 * directory used, or why none.
 */
export function enableModuleCache (dir = compileCacheDir()): { dir?: string, skipped?: string } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    return { skipped: `cannot make ${dir}: ${(err as Error).message}` }
  }
  const unsafe = unsafeAncestor(dir)
  if (unsafe != null) return { skipped: unsafe }
  const r = enableCompileCache(dir)
  return r.directory != null ? { dir: r.directory } : { skipped: r.message ?? `status ${r.status}` }
}
