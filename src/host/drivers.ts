import { basename } from 'node:path'

/**
 * gcc, g++, cc, c++, clang, clang++, with a target prefix or a version
 * suffix (x86_64-linux-gnu-gcc-12, clang++-15); not distcc, icecc, ccache
 * or c++filt. On its own: `run --retry-local` asks it on every wrapped
 * command and must not load the toolchain code to do so.
 */
export function isCompilerDriver (argv0: string): boolean {
  return /^(?:[A-Za-z0-9_.]+-)*(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(?:-\d+(?:\.\d+)*)?$/.test(basename(argv0))
}
