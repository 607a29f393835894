import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { appendFile, copyFile, readFile, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanup, tmpDir } from './helpers/node.js'
import { elfInterpreter, isCompilerDriver, parseIncludeDirs, parseLoaderList, toolchainDigest, toolchainIdentity, toolchainStats, ToolchainError } from '../src/host/toolchain.js'

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
const hasGcc = existsSync('/usr/bin/gcc')

describe('toolchain identity (src/host/toolchain.ts)', function () {
  this.timeout(300_000)
  afterEach(cleanup)

  it('reads PT_INTERP from the ELF headers; a script or garbage has none, a truncated ELF is an error', async () => {
    assert.equal(elfInterpreter('/bin/true'), execFileSync('sh', ['-c', 'readelf -l /bin/true 2>/dev/null | sed -n "s/.*interpreter: \\(.*\\)]/\\1/p"'], { encoding: 'utf8' }).trim() || '/lib64/ld-linux-x86-64.so.2')
    const dir = await tmpDir()
    await writeFile(join(dir, 'script'), '#!/bin/sh\necho hi\n')
    assert.equal(elfInterpreter(join(dir, 'script')), undefined)
    const head = (await readFile('/bin/true')).subarray(0, 80)
    await writeFile(join(dir, 'cut'), head)
    assert.throws(() => elfInterpreter(join(dir, 'cut')), ToolchainError)
  })

  it('parses the loader\'s list and a driver\'s include search list', () => {
    const listed = parseLoaderList('\tlinux-vdso.so.1 (0x00007ffc)\n\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f01)\n\tlibfoo.so.1 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f02)\n')
    assert.deepEqual(listed, { found: ['/lib/x86_64-linux-gnu/libm.so.6', '/lib64/ld-linux-x86-64.so.2'], missing: ['libfoo.so.1'] })
    assert.deepEqual(parseIncludeDirs('ignoring nonexistent directory "/x"\n#include "..." search starts here:\n#include <...> search starts here:\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n /usr/include\nEnd of search list.\n /not/this\n'), ['/usr/lib/gcc/x86_64-linux-gnu/12/include', '/usr/include'])
    assert.ok(isCompilerDriver('x86_64-linux-gnu-gcc-12') && !isCompilerDriver('c++filt'))
  })

  it('an executable: itself, its interpreter and its libraries as resolved here, with their sha256', async () => {
    const id = toolchainIdentity('/bin/true')
    const paths = id.files.map(f => f.path)
    assert.ok(paths.includes('/bin/true'))
    const libc = id.files.find(f => /\/libc\.so\.6$/.test(f.path))
    assert.ok(libc != null, paths.join(' '))
    assert.equal(libc.sha256, sha(libc.path))
    assert.equal(libc.role, 'library')
    assert.equal(id.files.find(f => f.role === 'interpreter')?.path, elfInterpreter('/bin/true'))
    assert.deepEqual(id.missing, [])
    assert.equal(id.digest, toolchainDigest(id.files))
    // a copy that differs by one byte has another digest; the same copy again, the same one
    const dir = await tmpDir()
    await copyFile('/bin/true', join(dir, 'true'))
    const a = toolchainIdentity(join(dir, 'true'))
    assert.equal(toolchainIdentity(join(dir, 'true')).digest, a.digest)
    await appendFile(join(dir, 'true'), Buffer.from([0]))
    const b = toolchainIdentity(join(dir, 'true'))
    assert.notEqual(b.digest, a.digest, 'a changed file is hashed again (size, mtime)')
    assert.equal(b.files.find(f => f.role === 'executable')?.sha256, sha(join(dir, 'true')))
  })

  it('never runs an ELF interpreter that is not the system\'s loader', async () => {
    // a short temp dir, so that the fake loader's path is as long as the real one's
    const dir = await tmpDir('k')
    const marker = join(dir, 'ran')
    // an "interpreter" that would leave a mark; the ELF names it in place of the real loader (same length)
    const real = elfInterpreter('/bin/true') as string
    const fake = `${dir}/${'l'.repeat(Math.max(1, real.length - dir.length - 1))}`
    assert.equal(fake.length, real.length, `temp dir ${dir} too long for this test`)
    await writeFile(fake, `#!/bin/sh\ntouch ${marker}\n`)
    await chmod(fake, 0o755)
    const bytes = await readFile('/bin/true')
    const at = bytes.indexOf(Buffer.from(real + '\0'))
    bytes.write(fake, at, 'latin1')
    await writeFile(join(dir, 'evil'), bytes, { mode: 0o755 })
    assert.equal(elfInterpreter(join(dir, 'evil')), fake)
    assert.throws(() => toolchainIdentity(join(dir, 'evil')), /is not this system's loader/)
    assert.ok(!existsSync(marker))
  })

  it('gcc (this machine\'s): cc1, as, ld, collect2 with their libraries, the include directories\' headers; cached by stat', function () {
    if (!hasGcc) this.skip()
    const id = toolchainIdentity('/usr/bin/gcc')
    const byPath = new Map(id.files.map(f => [f.path, f]))
    const cc1 = execFileSync('gcc', ['-print-prog-name=cc1'], { encoding: 'utf8' }).trim()
    assert.equal(byPath.get(cc1)?.role, 'program')
    assert.equal(byPath.get(cc1)?.sha256, sha(cc1))
    for (const prog of ['as', 'ld']) {
      const path = execFileSync('sh', ['-c', `command -v ${prog}`], { encoding: 'utf8' }).trim()
      assert.equal(byPath.get(path)?.role, 'program', prog)
    }
    // cc1's own libraries are in (libgmp, libmpfr, libmpc: a target with another GCC lacks them)
    assert.ok(id.files.some(f => /libmpc\.so/.test(f.path) && f.role === 'library'))
    assert.ok(id.includeDirs.includes('/usr/include'))
    assert.equal(byPath.get('/usr/include/stdio.h')?.sha256, sha('/usr/include/stdio.h'))
    assert.equal(byPath.get('/usr/bin/gcc')?.sha256, sha(realpathSync('/usr/bin/gcc')))
    assert.equal(byPath.get('/usr/bin/gcc')?.role, 'executable')
    const hashed = toolchainStats.hashed
    const again = toolchainIdentity('/usr/bin/gcc')
    assert.equal(again.digest, id.digest)
    assert.equal(toolchainStats.hashed, hashed, 'nothing hashed twice')
  })
})
