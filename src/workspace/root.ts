import { lstat, stat } from 'node:fs/promises'
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import { UserError } from '../errors.js'
import { WORKSPACE_MARKER } from './constants.js'

async function exists (path: string): Promise<boolean> {
  return await lstat(path).then(() => true, () => false)
}

/** `child` is `parent` or inside it. */
export function isInside (parent: string, child: string): boolean {
  const rel = relative(parent, child)
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))
}

/**
 * The workspace a job started in `cwd` sees. `explicit` (--workspace) wins
 * and must hold the cwd. Otherwise the nearest enclosing git work tree (a
 * `.git` directory or file) or directory holding a `.kappa-workspace` marker,
 * walking up from the cwd. The walk stops below the user's home: a dotfiles
 * repository at `~` must not make every job ship the whole home, so `~` is
 * the root only when the cwd is `~` itself or `~` holds the marker. `/` is
 * never a workspace. Without a match, the cwd is the root.
 */
export async function findWorkspaceRoot (cwd: string, home: string | undefined, explicit?: string): Promise<string> {
  if (explicit != null && explicit !== '') {
    const root = resolve(cwd, explicit)
    const st = await stat(root).catch(() => undefined)
    if (st?.isDirectory() !== true) throw new UserError(`--workspace ${explicit}: not a directory`)
    if (root === '/') throw new UserError('--workspace /: the whole file system cannot be a workspace')
    if (!isInside(root, cwd)) throw new UserError(`--workspace ${explicit} does not hold the current directory ${cwd}`)
    return root
  }
  if (cwd === '/') throw new UserError('no workspace: the current directory is /; cd into a project or give --workspace DIR')
  const homeDir = home != null && home !== '' && isAbsolute(home) ? resolve(home) : undefined
  const underHome = homeDir != null && homeDir !== '/' && isInside(homeDir, cwd)
  for (let dir = cwd; dir !== '/'; dir = dirname(dir)) {
    if (underHome && dir === homeDir && dir !== cwd) {
      // the home is a workspace only when it says so
      return await exists(`${dir}/${WORKSPACE_MARKER}`) ? dir : cwd
    }
    if (await exists(`${dir}/${WORKSPACE_MARKER}`) || await exists(`${dir}/.git`)) return dir
  }
  return cwd
}
