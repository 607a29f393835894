import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, open, readlink, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** What the target needs to know about an executable before it is sent. */
export interface ExecutableInfo {
  path: string
  size: number
  mode: number
  sha256: Buffer
  /** `uname -m` name of an ELF's machine; undefined for scripts */
  arch?: string
  /** `#!` interpreter of a script (a bare name for `#!/usr/bin/env name`) */
  interpreter?: string
}

const ELF_MACHINES: Record<number, string> = { 0x3e: 'x86_64', 0xb7: 'aarch64', 0x03: 'i686', 0x28: 'armv7l', 0x15: 'ppc64le', 0x16: 's390x', 0xf3: 'riscv64', 0x102: 'loongarch64' }

interface CacheEntry { size: number, mtimeMs: number, ino: number, info: ExecutableInfo }

/** Hashing a large compiler on every run would cost more than the run: remember by (inode, size, mtime). */
const cache = new Map<string, CacheEntry>()

export async function inspectExecutable (path: string): Promise<ExecutableInfo> {
  const st = await stat(path)
  const hit = cache.get(path)
  if (hit != null && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) return hit.info
  const head = Buffer.alloc(256)
  const file = await open(path, 'r')
  let n: number
  try {
    n = (await file.read(head, 0, head.length, 0)).bytesRead
  } finally {
    await file.close()
  }
  const info: ExecutableInfo = { path, size: st.size, mode: st.mode & 0o7777, sha256: await sha256File(path) }
  const bytes = head.subarray(0, n)
  if (bytes.length >= 20 && bytes.readUInt32BE(0) === 0x7f454c46) {
    const littleEndian = bytes[5] === 1
    const machine = littleEndian ? bytes.readUInt16LE(18) : bytes.readUInt16BE(18)
    info.arch = ELF_MACHINES[machine] ?? `elf-machine-${machine}`
  } else if (bytes[0] === 0x23 && bytes[1] === 0x21) {
    info.interpreter = parseShebang(bytes.toString('latin1'))
  }
  if (cache.size > 1000) cache.clear()
  cache.set(path, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, info })
  return info
}

/** `#!/bin/sh -e` → /bin/sh; `#!/usr/bin/env python3` → python3 (looked up on the target's PATH). */
export function parseShebang (text: string): string | undefined {
  const line = text.slice(2).split('\n')[0].trim()
  const [interp, arg] = line.split(/\s+/)
  if (interp == null || interp === '') return undefined
  if (/(^|\/)env$/.test(interp) && arg != null && !arg.startsWith('-')) return arg
  return interp
}

export async function sha256File (path: string): Promise<Buffer> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest()
}

/** Hops of a symlink chain followed at most (the kernel's own limit is 40). */
const MAX_LINKS = 40

/**
 * The symlinks from `path` to the file it names, for as long as they lie
 * where a target cannot show its own (`shownThere` false: outside the
 * system directories and the workspace): `my-cc → cc-alias → /usr/bin/cc`
 * gives the first two, and the sandbox makes them, so that a driver that
 * finds its own installation through its path (gcc does) finds it there too.
 */
export async function symlinkChain (path: string, shownThere: (p: string) => boolean): Promise<Array<{ path: string, target: string }>> {
  const links: Array<{ path: string, target: string }> = []
  let at = path
  while (links.length < MAX_LINKS && !shownThere(at)) {
    const st = await lstat(at).catch(() => undefined)
    if (st == null || !st.isSymbolicLink()) break
    const target = await readlink(at)
    links.push({ path: at, target })
    at = resolve(dirname(at), target)
  }
  return links
}
