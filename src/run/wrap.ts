import { chmod, mkdir, realpath } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resolveHome } from '../home/index.js'
import { findExecutable } from '../host/requirements.js'
import { writeFileAtomic } from '../home/atomic.js'
import { UserError } from '../errors.js'

/**
 * Masquerade shims, as distcc and icecream do with compiler symlinks: a
 * directory of small scripts named after the commands, each starting the
 * real command through `kappa-node run`. With that directory first on PATH,
 * `make -j8` and friends place those commands without knowing it.
 */
export async function wrapCommand (commands: string[], opts: { home?: string, dir?: string }): Promise<void> {
  const home = resolveHome(opts.home)
  const dir = resolve(opts.dir ?? join(home, 'wrap'))
  await mkdir(dir, { recursive: true })
  const launcher = fileURLToPath(new URL('../../../bin/kappa-node', import.meta.url))
  // find the real commands on PATH without our own shims
  const path = (process.env.PATH ?? '').split(':').filter(d => d !== '' && resolve(d) !== dir).join(':')
  for (const name of commands) {
    if (name.includes('/')) throw new UserError(`wrap takes command names, not paths: '${name}'`)
    const found = findExecutable(name, path)
    if (found == null) throw new UserError(`${name}: not found on PATH`)
    const real = await realpath(found)
    const homeFlag = opts.home != null ? ` --home ${shellQuote(home)}` : ''
    const script = `#!/bin/sh\n# kappa-node shim: runs ${name} on the best node of the overlay\nexec ${shellQuote(launcher)} run${homeFlag} -- ${shellQuote(real)} "$@"\n`
    await writeFileAtomic(join(dir, name), script, 0o755)
    await chmod(join(dir, name), 0o755)
  }
  process.stdout.write(`wrapped ${commands.join(', ')} in ${dir}; use them with:\n  export PATH=${dir}:$PATH\n`)
}

function shellQuote (s: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`
}
