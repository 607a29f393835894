/**
 * Where this checkout's CLI and daemon start from. Paths go through '../'
 * so that they are right from this file (dist/src/cluster/) and from the
 * bundle in dist/src/cli/ alike.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The CLI's entry: loads only the modules a command needs (a CLI call costs ~0.15 CPU s). */
export const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
/** `bin/kappa-node` of this checkout: what the printed commands use */
export const BIN = fileURLToPath(new URL('../../../bin/kappa-node', import.meta.url))
/**
 * The daemon's entry: the bundle scripts/build.mjs writes (one file, ~0.45 CPU
 * s to load) when there is one, else main.js (~650 modules, ~1.1 CPU s).
 * bin/kappa-node makes the same choice for `start`.
 */
export const DAEMON_MAIN = ((bundle: string) => existsSync(bundle) ? bundle : MAIN)(fileURLToPath(new URL('../cli/main.bundle.js', import.meta.url)))
