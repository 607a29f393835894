import { lstat, readdir, mkdir, open, rename, unlink, stat } from 'node:fs/promises'
import { isAbsolute, join, normalize, relative, resolve, sep, dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { UserError } from '../errors.js'
import { MAX_INPUT_BYTES, MAX_JOB_FILES } from '../constants.js'

export interface JobFile {
  /** relative to the job's working directory, '/'-separated, no '..' */
  path: string
  size: number
  mode: number
  mtimeMs: number
}

/** A path a peer sent: relative, normalised, inside the job directory. Anything else is refused. */
export function safeRelative (path: string): string {
  if (path === '' || isAbsolute(path) || path.includes('\0')) throw new Error(`unsafe path '${path}'`)
  const norm = normalize(path)
  if (norm === '..' || norm.startsWith(`..${sep}`) || norm === '.' || norm.split(sep).includes('..')) throw new Error(`unsafe path '${path}'`)
  return norm
}

/** `path` (absolute or relative to cwd) as a path relative to cwd, if it is inside cwd. */
export function insideCwd (cwd: string, path: string): string | undefined {
  const rel = relative(cwd, resolve(cwd, path))
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined
  return rel
}

/**
 * The files a job reads: argv entries that name existing regular files under
 * the cwd, plus `--input` paths (files, or directories taken whole).
 */
export async function collectInputs (cwd: string, args: string[], explicit: string[]): Promise<JobFile[]> {
  const found = new Map<string, JobFile>()
  let total = 0
  const add = async (rel: string): Promise<void> => {
    if (found.has(rel)) return
    const st = await lstat(join(cwd, rel)).catch(() => undefined)
    if (st == null) return
    if (st.isDirectory()) {
      for (const name of await readdir(join(cwd, rel))) await add(join(rel, name))
      return
    }
    if (!st.isFile()) return
    if (found.size >= MAX_JOB_FILES) throw new UserError(`too many input files (limit ${MAX_JOB_FILES})`)
    total += st.size
    if (total > MAX_INPUT_BYTES) throw new UserError(`input files exceed ${MAX_INPUT_BYTES / 2 ** 30} GiB`)
    found.set(rel, { path: rel, size: st.size, mode: st.mode & 0o777, mtimeMs: st.mtimeMs })
  }
  for (const arg of args) {
    if (arg.startsWith('-') || arg === '') continue
    const rel = insideCwd(cwd, arg)
    if (rel == null) continue
    const st = await stat(join(cwd, rel)).catch(() => undefined)
    if (st?.isFile() === true) await add(rel)
  }
  for (const path of explicit) {
    const rel = insideCwd(cwd, path)
    if (rel == null) throw new UserError(`--input ${path} is not inside the current directory ${cwd}`)
    if (await lstat(join(cwd, rel)).catch(() => undefined) == null) throw new UserError(`--input ${path}: no such file`)
    await add(rel)
  }
  return [...found.values()]
}

/** Regular files under `dir`, relative paths; symlinks and special files are skipped. */
export async function listFiles (dir: string, limit = MAX_JOB_FILES): Promise<JobFile[]> {
  const out: JobFile[] = []
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      if (out.length >= limit) return
      const r = rel === '' ? e.name : join(rel, e.name)
      if (e.isDirectory()) await walk(r)
      else if (e.isFile()) {
        const st = await lstat(join(dir, r)).catch(() => undefined)
        if (st != null) out.push({ path: r, size: st.size, mode: st.mode & 0o777, mtimeMs: st.mtimeMs })
      }
    }
  }
  await walk('')
  return out
}

/** Writes a file that arrives in chunks: into a temp file beside it, renamed into place at the end. */
export class IncomingFile {
  private constructor (readonly target: string, private readonly tmp: string, private readonly handle: Awaited<ReturnType<typeof open>>, readonly expected: number, private readonly mode: number) {}
  written = 0

  static async create (target: string, size: number, mode: number): Promise<IncomingFile> {
    await mkdir(dirname(target), { recursive: true })
    const tmp = join(dirname(target), `.kappa-${randomBytes(4).toString('hex')}.part`)
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
    await this.handle.close().catch(() => {})
    await unlink(this.tmp).catch(() => {})
  }
}
