import { lstat, readdir, mkdir, open, rename, unlink, stat } from 'node:fs/promises'
import { join, resolve, dirname, isAbsolute, normalize } from 'node:path'
import { UserError } from '../errors.js'
import { isInside, MAX_EXTRA_FILES, temporaryName } from '../workspace/index.js'
import { inspectExecutable } from './exe.js'
import { underSystemDir } from './sandbox.js'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('migrate:files')

/** A file outside the workspace that travels with a job (read-only at its path there). */
export interface ExtraFile { path: string, digest: Buffer, size: number, mode: number }

/** An absolute, normal path a peer names. */
export function safeAbsolute (path: string): boolean {
  return isAbsolute(path) && !path.includes('\0') && normalize(path) === path && path !== '/' && !path.endsWith('/')
}

/** Directories the sandbox makes fresh or shows as they are: a file there never travels. */
function local (path: string): boolean {
  return underSystemDir(path) || path.startsWith('/proc/') || path.startsWith('/dev/') || path.startsWith('/sys/')
}

/**
 * Files a job names outside its workspace: argv entries that are existing
 * regular files (relative to the cwd or absolute), and `--input` paths
 * (files, or directories taken whole); system directories excepted (the
 * target has its own).
 */
export async function collectExtras (cwd: string, root: string, args: string[], explicit: string[]): Promise<ExtraFile[]> {
  const found = new Map<string, ExtraFile>()
  const add = async (path: string, required: boolean): Promise<void> => {
    if (found.has(path) || isInside(root, path) || local(path)) return
    const st = await lstat(path).catch(() => undefined)
    if (st == null) {
      if (required) throw new UserError(`--input ${path}: no such file`)
      return
    }
    if (st.isDirectory()) {
      if (!required) return
      for (const name of await readdir(path)) await add(join(path, name), true)
      return
    }
    const real = st.isSymbolicLink() ? await stat(path).catch(() => undefined) : st
    if (real?.isFile() !== true) return
    if (found.size >= MAX_EXTRA_FILES) throw new UserError(`over ${MAX_EXTRA_FILES} files named outside the workspace ${root}: give a larger --workspace`)
    const info = await inspectExecutable(path)
    found.set(path, { path, digest: info.sha256, size: info.size, mode: info.mode & 0o777 })
  }
  for (const arg of args) {
    if (arg.startsWith('-') || arg === '' || arg.includes('\0')) continue
    await add(resolve(cwd, arg), false)
  }
  for (const path of explicit) await add(resolve(cwd, path), true)
  return [...found.values()]
}

/** Writes a file that arrives in chunks: into a temp file beside it, renamed into place at the end. */
export class IncomingFile {
  private constructor (readonly target: string, private readonly tmp: string, private readonly handle: Awaited<ReturnType<typeof open>>, readonly expected: number, private readonly mode: number) {}
  written = 0

  static async create (target: string, size: number, mode: number): Promise<IncomingFile> {
    await mkdir(dirname(target), { recursive: true })
    const tmp = join(dirname(target), temporaryName())
    const handle = await open(tmp, 'wx', 0o600)
    return new IncomingFile(target, tmp, handle, size, mode)
  }

  async write (data: Uint8Array): Promise<void> {
    if (this.written + data.length > this.expected) throw new Error(`${this.target}: more data than announced`)
    await this.handle.write(data)
    this.written += data.length
  }

  get complete (): boolean {
    return this.written === this.expected
  }

  async finish (): Promise<void> {
    await this.handle.chmod(this.mode & 0o777)
    await this.handle.close()
    await rename(this.tmp, this.target)
  }

  async discard (): Promise<void> {
    await this.handle.close().catch(logged(debug, 'closing a file'))
    await unlink(this.tmp).catch(logged(debug, 'removing a temporary file'))
  }
}
