import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HOME_FILES, resolveHome } from '../home/paths.js'
import { findExecutable } from '../host/requirements.js'
import { isCompilerDriver } from '../host/drivers.js'
import { writeFileAtomic } from '../home/atomic.js'
import { UserError, errorMessage } from '../errors.js'
import { temporaryName } from '../workspace/constants.js'
import { debugLogger } from '../debug.js'

const debug = debugLogger('wrap')

/** The C run client's source (shipped in the package) and its name in a shim directory. */
const NATIVE_SOURCE = fileURLToPath(new URL('../../../src/run/kappa-run.c', import.meta.url))
export const NATIVE_CLIENT = '.kappa-run'

export interface WrapOptions {
  home?: string
  dir?: string
  /** `run` options every shim passes on */
  env?: string[]
  noEnv?: string[]
  workspace?: string
  input?: string[]
  output?: string[]
  peer?: string
  remote?: boolean
  local?: boolean
  stdin?: boolean
}

/**
 * Masquerade shims, as distcc and icecream do with compiler symlinks: a
 * directory of small POSIX-sh scripts named after the commands. With it
 * first on PATH, `make -j8` and friends start those commands through kappa
 * without knowing it. A shim keeps the name it was called by: it takes its
 * own directory off PATH (as distcc does) and starts the command by that
 * name, so `c++` is the next `c++` on PATH, not the binary it resolves to.
 * While the daemon's placement hint says this node is the best place for
 * the next few jobs, a shim starts the command here itself, with shell
 * builtins only: no Node start, no daemon round trip (docs/builds.md).
 * Otherwise it runs `kappa-node run --retry-local` with the wrap's options.
 */
export async function wrapCommand (commands: string[], opts: WrapOptions): Promise<void> {
  if (opts.local === true) throw new UserError('wrap --local would make shims that only run the commands here: leave them unwrapped')
  if (opts.remote === true && opts.peer != null) throw new UserError('use only one of --remote and --peer')
  const home = resolveHome(opts.home)
  const dir = resolve(opts.dir ?? join(home, 'wrap'))
  await mkdir(dir, { recursive: true })
  const launcher = fileURLToPath(new URL('../../../bin/kappa-node', import.meta.url))
  // the real commands on PATH without our own shims
  const path = (process.env.PATH ?? '').split(':').filter(d => d !== '' && resolve(d) !== dir).join(':')
  for (const name of commands) {
    if (name.includes('/') || name === '' || name === '.' || name === '..') throw new UserError(`wrap takes command names, not paths: '${name}'`)
    if (findExecutable(name, path) == null) throw new UserError(`${name}: not found on PATH`)
  }
  const native = await buildNativeClient(dir, path)
  for (const name of commands) {
    const spec: ShimSpec = { dir, launcher, home: opts.home != null ? home : undefined, runArgs: runArgs(opts), nativeArgs: native.built ? nativeArgs(name, opts) : undefined }
    await writeFileAtomic(join(dir, name), shimScript(name, spec), 0o755)
    await chmod(join(dir, name), 0o755)
  }
  process.stdout.write(`wrapped ${commands.join(', ')} in ${dir}; use them with:\n  export PATH=${dir}:$PATH\n${native.built ? '' : `(the shims start Node for each command: ${native.why})\n`}`)
}

/**
 * The C run client (src/run/kappa-run.c), compiled with the C compiler on
 * PATH into the shim directory: a wrapped command then costs ~1 ms of the
 * origin's CPU instead of a Node start (~0.2 s), which on a busy origin is
 * what limits a build. Without a compiler the shims start the Node client.
 */
async function buildNativeClient (dir: string, path: string): Promise<{ built: true } | { built: false, why: string }> {
  const target = join(dir, NATIVE_CLIENT)
  if (!existsSync(NATIVE_SOURCE)) return { built: false, why: `${NATIVE_SOURCE} is missing` }
  const compiler = findExecutable('cc', path) ?? findExecutable('gcc', path) ?? findExecutable('clang', path)
  if (compiler == null) {
    await rm(target, { force: true })
    return { built: false, why: 'no C compiler (cc, gcc, clang) on PATH to build the native client' }
  }
  const temporary = join(dir, temporaryName())
  let failed = await new Promise<string | undefined>((resolve) => {
    execFile(compiler, ['-O2', '-o', temporary, NATIVE_SOURCE], { timeout: 120_000 }, (err, _stdout, stderr) => {
      resolve(err == null ? undefined : (stderr.trim().split('\n')[0] || errorMessage(err)))
    })
  })
  if (failed == null && !existsSync(temporary)) failed = 'it wrote no program'
  if (failed != null) {
    debug('building the native client with %s: %s', compiler, failed)
    await rm(temporary, { force: true })
    await rm(target, { force: true })
    return { built: false, why: `${compiler} could not build the native client: ${failed}` }
  }
  await rename(temporary, target)
  return { built: true }
}

/** The C client's options for a shim of `name` (the same as runArgs; see its usage in kappa-run.c). */
export function nativeArgs (name: string, opts: WrapOptions): string[] {
  const args: string[] = []
  if (opts.remote === true) args.push('-m', 'remote')
  else args.push('-r')
  if (opts.peer != null) args.push('-m', 'peer', '-p', opts.peer)
  // a compile is a function of its inputs: a remote failure is compiled here again (src/run/retry.ts)
  if (isCompilerDriver(name)) args.push('-c')
  for (const e of opts.env ?? []) args.push('-e', e)
  for (const e of opts.noEnv ?? []) args.push('-E', e)
  if (opts.workspace != null) args.push('-w', resolve(opts.workspace))
  for (const f of opts.input ?? []) args.push('-I', resolve(f))
  for (const f of opts.output ?? []) args.push('-O', f)
  if (opts.stdin === true) args.push('-i')
  return args
}

/** The `run` options a shim passes on (the wrap's own, plus --retry-local: a wrapped command never breaks a build). */
export function runArgs (opts: WrapOptions): string[] {
  const args: string[] = []
  if (opts.remote === true) args.push('--remote')
  else args.push('--retry-local')
  if (opts.peer != null) args.push('--peer', opts.peer)
  for (const e of opts.env ?? []) args.push('--env', e)
  for (const e of opts.noEnv ?? []) args.push('--no-env', e)
  if (opts.workspace != null) args.push('--workspace', resolve(opts.workspace))
  for (const f of opts.input ?? []) args.push('--input', resolve(f))
  for (const f of opts.output ?? []) args.push('--output', f)
  if (opts.stdin === true) args.push('--stdin')
  return args
}

export interface ShimSpec {
  /** the shim directory, taken off PATH */
  dir: string
  /** bin/kappa-node */
  launcher: string
  /** the home given to wrap; else the shim uses $KAPPA_HOME or ~/.kappa when it runs, as `run` would */
  home?: string
  runArgs: string[]
  /** the native client's options, when wrap built it (the shim falls back to Node when it is gone) */
  nativeArgs?: string[]
}

/** The shim for `name`: POSIX sh, builtins only on the way to a local start. */
export function shimScript (name: string, spec: ShimSpec): string {
  const q = shellQuote
  // the hint is only for placement by the overlay: a shim sent to one peer or to any remote node always asks
  const hinted = !spec.runArgs.includes('--remote') && !spec.runArgs.includes('--peer')
  return [
    '#!/bin/sh',
    `# kappa-node shim (kappa-node wrap): runs ${name} through kappa under its own name.`,
    `# This directory comes off PATH, so ${name} is the next one on PATH (as distcc's masquerade).`,
    `d=${q(spec.dir)}`,
    spec.home != null ? `h=${q(spec.home)}` : `h=\${KAPPA_HOME:-$HOME/.kappa}`,
    'p=',
    'IFS=:',
    'set -f',
    'for x in $PATH; do',
    '  [ "$x" = "$d" ] || [ "$x" = "$d/" ] || p=${p:+$p:}$x',
    'done',
    'unset IFS',
    'set +f',
    'PATH=$p',
    'export PATH',
    ...(hinted
      ? [
          '# the daemon\'s placement hint: this node is the best place for the next <n> jobs; take a slot (O_EXCL) and start here',
          `if read -r g n 2>/dev/null <"$h/${HOME_FILES.localHint}"; then`,
          '  case $n in \'\'|*[!0-9]*) n=0 ;; esac',
          '  i=0',
          '  set -C',
          '  while [ "$i" -lt "$n" ]; do',
          `    if true 2>/dev/null >"$h/${HOME_FILES.localClaims}/$g.$i"; then set +C; exec ${q(name)} "$@"; fi`,
          '    i=$((i + 1))',
          '  done',
          '  set +C',
          'fi'
        ]
      : []),
    ...(spec.nativeArgs != null ? [`[ -x "$d/${NATIVE_CLIENT}" ] && exec "$d/${NATIVE_CLIENT}" -h "$h" ${spec.nativeArgs.map(q).join(' ')} -- ${q(name)} "$@"`] : []),
    `exec ${q(spec.launcher)} run --home "$h" ${spec.runArgs.map(q).join(' ')} -- ${q(name)} "$@"`,
    ''
  ].join('\n')
}

function shellQuote (s: string): string {
  return /^[A-Za-z0-9_./=:+@%,-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`
}
