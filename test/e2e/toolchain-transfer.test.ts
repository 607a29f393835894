/**
 * The toolchain identity wired into migration (issue 13, docs/toolchain.md):
 * `run --remote -- cc …` (and c++, and a command reached through a symlink
 * chain) under bubblewrap gives what a local compile gives; a target whose
 * compiler helper and header differ from the origin's by content runs the
 * origin's (from the store, shown over its own in an overlay) and produces
 * byte-identical output; a target without a sandbox refuses such a job and
 * it runs at home. Manifests from peers are checked; the per-driver cache
 * revalidates by stat and notices a new header.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { appendFile, chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNode, pairNodes, cleanup, cleanupKept, sharedNodes, tmpDir, gossipLive, onCleanup, until, type TestNode, HAS_BWRAP } from '../helpers/node.js'
import { runJob, jobLog } from '../helpers/run.js'
import { Toolchain } from '../../src/wire/toolchain.js'
import { ToolchainCache, decodeManifest, manifestOf } from '../../src/host/toolchain-cache.js'
import { ToolchainError } from '../../src/host/toolchain.js'
import { layerPlacement } from '../../src/workspace/index.js'
import { launchCommand } from '../../src/migrate/sandbox.js'

const isRoot = process.getuid?.() === 0
const hasBwrap = HAS_BWRAP
const hasCc = existsSync('/usr/bin/cc') && existsSync('/usr/bin/c++')
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin'

/** A fake compiler driver in `dir` that runs `libexec/cc1` (the helper) and reads `include/fake.h`. */
async function fakeToolchain (dir: string, which: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true })
  await mkdir(join(dir, 'libexec'), { recursive: true })
  await mkdir(join(dir, 'include'), { recursive: true })
  const driver = join(dir, 'bin', 'x86_64-kappafake-cc')
  await writeFile(driver, [
    '#!/bin/sh',
    `here=${dir}`,
    'case "$1" in',
    '  -print-prog-name=cc1) echo "$here/libexec/cc1"; exit 0 ;;',
    '  -print-prog-name=*) echo "$here/libexec/absent"; exit 0 ;;',
    '  -E) printf \'#include <...> search starts here:\\n %s/include\\nEnd of search list.\\n\' "$here" >&2; exit 0 ;;',
    'esac',
    'exec "$here/libexec/cc1" "$@"',
    ''
  ].join('\n'))
  await chmod(driver, 0o755)
  await writeHelper(dir, which)
}

/** The helper ("cc1") and the header, as toolchain `which` has them: the object says which compiled it. */
async function writeHelper (dir: string, which: string, into = dir): Promise<void> {
  await mkdir(join(into, 'libexec'), { recursive: true })
  await mkdir(join(into, 'include'), { recursive: true })
  const helper = join(into, 'libexec', 'cc1')
  await writeFile(helper, [
    '#!/bin/sh',
    `# the helper of toolchain ${which}`,
    'out=a.out; src=',
    'while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2 ;; -*) shift ;; *) src="$1"; shift ;; esac; done',
    `{ echo "object by helper ${which}"; sha256sum < "$src"; cat "${dir}/include/fake.h"; } > "$out"`,
    ''
  ].join('\n'))
  await chmod(helper, 0o755)
  await writeFile(join(into, 'include', 'fake.h'), `#define TOOLCHAIN "${which}"\n`)
}

describe('toolchain identity in the job: checks (pure)', () => {
  afterEach(cleanup)

  it('a manifest from a peer: digest, order, paths and modes are checked', () => {
    const good = manifestOf({ executable: '/usr/bin/x', files: [{ path: '/usr/bin/x', sha256: 'aa'.repeat(32), mode: 0o755, size: 3, role: 'executable' }], digest: '', missing: [], includeDirs: [], dirs: [] })
    assert.equal(decodeManifest(good.bytes, good.digest).files[0].path, '/usr/bin/x')
    assert.throws(() => decodeManifest(good.bytes, 'bb'.repeat(32)), ToolchainError, 'another digest')
    const bad = (files: Array<{ path: string, mode?: number }>): Uint8Array => Toolchain.encode({ files: files.map(f => ({ path: f.path, digest: new Uint8Array(32), size: 1n, mode: f.mode ?? 0o644, header: false })) })
    const digestOf = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
    for (const [what, files] of [
      ['a relative path', [{ path: 'usr/bin/x' }]],
      ['a path with ..', [{ path: '/usr/../etc/shadow' }]],
      ['unsorted', [{ path: '/usr/b' }, { path: '/usr/a' }]],
      ['twice', [{ path: '/usr/a' }, { path: '/usr/a' }]],
      ['a setuid mode', [{ path: '/usr/a', mode: 0o4755 }]]
    ] as const) {
      const bytes = bad([...files])
      assert.throws(() => decodeManifest(bytes, digestOf(bytes)), ToolchainError, what)
    }
  })

  it('where a layer puts a file: below the real system directory, through this node\'s symlinks', () => {
    const libc = layerPlacement('/lib/x86_64-linux-gnu/libc.so.6')
    assert.ok(libc != null)
    const merged = existsSync('/lib') && execFileSync('readlink', ['-f', '/lib'], { encoding: 'utf8' }).trim() === '/usr/lib'
    assert.equal(libc.placed, merged ? '/usr/lib/x86_64-linux-gnu/libc.so.6' : '/lib/x86_64-linux-gnu/libc.so.6')
    assert.equal(layerPlacement('/usr/lib/gcc/x86_64-linux-gnu/99/cc1')?.placed, '/usr/lib/gcc/x86_64-linux-gnu/99/cc1', 'a directory this node lacks is made in the layer')
    assert.equal(layerPlacement('/etc/passwd'), undefined, 'never /etc')
    assert.equal(layerPlacement('/home/u/bin/tool'), undefined, 'never outside the system directories')
    assert.equal(layerPlacement('/usr/include'), undefined, 'never over a directory')
  })

  it('the sandbox shows a layer at a system directory instead of this node\'s own', () => {
    const spec = { workspace: '/w', view: '/v', cwd: '/w', argv: ['cc'], env: {}, exec: { kind: 'as-given' as const }, extras: [], outputs: [], allowNetwork: false, user: { uid: 1000, gid: 1000 }, hide: [] }
    const plain = launchCommand('bwrap', spec).args.join(' ')
    assert.match(plain, /--ro-bind \/usr \/usr/)
    const layered = launchCommand('bwrap', { ...spec, systemDirs: { '/usr': '/home/k/toolchains/x/mnt/usr' } }).args.join(' ')
    assert.match(layered, /--ro-bind \/home\/k\/toolchains\/x\/mnt\/usr \/usr/)
    assert.doesNotMatch(layered, /--ro-bind \/usr \/usr/)
  })

  it('the per-driver cache: reused after a stat check, computed again when a header is added', async function () {
    this.timeout(120_000)
    const dir = await tmpDir('kappa-fake-tc-')
    await fakeToolchain(dir, 'A')
    const driver = join(dir, 'bin', 'x86_64-kappafake-cc')
    const cache = new ToolchainCache({ cacheFile: null, freshMs: 0 })
    try {
      const first = await cache.manifest(driver)
      const paths = first.files.map(f => f.path)
      assert.ok(paths.includes(driver) && paths.includes(join(dir, 'libexec', 'cc1')) && paths.includes(join(dir, 'include', 'fake.h')), paths.join(' '))
      const again = await cache.manifest(driver)
      assert.equal(again, first, 'the same manifest, from the cache')
      assert.deepEqual([cache.stats.computed, cache.stats.revalidated], [1, 1])
      assert.ok(cache.stats.lastChecks >= 4, 'driver, helper, include directory, loader cache')
      await writeFile(join(dir, 'include', 'new.h'), '/* new */\n')
      const changed = await cache.manifest(driver)
      assert.notEqual(changed.digest, first.digest)
      assert.ok(changed.files.some(f => f.path === join(dir, 'include', 'new.h') && f.header))
      assert.equal(cache.stats.computed, 2)
      // an edit in place (no rename: the directory's stat stays): its directory's watch sees it
      const inPlace = await cache.manifest(driver)
      assert.equal(inPlace, changed, 'nothing changed since')
      await appendFile(join(dir, 'include', 'new.h'), '/* more */\n')
      await until('the watch to see the edit', async () => (await cache.manifest(driver)).digest !== changed.digest)
      const latest = await cache.manifest(driver)
      // what this machine holds: all the same; a changed helper differs
      assert.equal((await cache.differing(latest)).size, 0)
      await writeHelper(dir, 'B')
      const differ = await cache.differing(latest)
      assert.deepEqual([...differ].sort(), [join(dir, 'include', 'fake.h'), join(dir, 'libexec', 'cc1')])
    } finally {
      cache.close()
    }
  })
})

describe('toolchain identity in the job: two daemons', function () {
  this.timeout(600_000)
  afterEach(cleanup)

  before(function () {
    if (!isRoot || !hasBwrap) {
      console.log(`      skipped: needs root and bubblewrap (${!isRoot ? 'not root' : 'bwrap not installed'})`)
      this.skip()
    }
  })

  async function pair (bPrefix?: string[], bArgs: string[] = []): Promise<[TestNode, TestNode]> {
    const [a, b] = await Promise.all([
      startNode('a', { args: ['--delay', '300', '--metric-override', '37'] }),
      startNode('b', { args: ['--delay', '300', '--metric-override', '148', ...bArgs], prefix: bPrefix })
    ])
    await pairNodes(a, b)
    await gossipLive(a, b)
    return [a, b]
  }

  /**
   * A fake toolchain under /opt (a system directory, which the sandbox shows
   * read-only), and a pair whose B sees toolchain B at the same paths: its own
   * mount namespace, the other helper and header bound over A's. The real
   * compilers are the same on both, so the tests with cc share the pair.
   */
  const fake = `/opt/kappa-fake-${randomBytes(4).toString('hex')}`
  let prefix: string[] = []
  const differing = sharedNodes(async () => {
    onCleanup(async () => { await rm(fake, { recursive: true, force: true }) })
    await fakeToolchain(fake, 'A')
    const other = await tmpDir('kappa-fake-b-')
    await writeHelper(fake, 'B', other)
    const bind = (from: string, to: string): string => `mount --bind '${from}' '${to}'`
    prefix = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
      `${bind(join(other, 'libexec/cc1'), join(fake, 'libexec/cc1'))} && ${bind(join(other, 'include/fake.h'), join(fake, 'include/fake.h'))} && exec "$@"`, 'sh']
    return await pair(prefix)
  })
  after(cleanupKept)

  it('acceptance 1: cc, c++ and a command through a symlink chain, under bubblewrap, as a local compile', async function () {
    if (!hasCc) {
      console.log('      skipped: needs cc and c++ (.ci/run installs gcc and g++)')
      this.skip()
    }
    const [a, b] = await differing.get()
    const before = (await jobLog(b)).length
    const ws = await tmpDir('kappa-ws-')
    const bin = await tmpDir('kappa-bin-')
    // a chain outside the system directories: my-cc → cc-alias → /usr/bin/cc → /etc/alternatives/cc → …
    await symlink('/usr/bin/cc', join(bin, 'cc-alias'))
    await symlink('cc-alias', join(bin, 'my-cc'))
    await writeFile(join(ws, '.kappa-workspace'), '')
    await writeFile(join(ws, 'main.c'), '#include <stdio.h>\nint main (void) { printf("hello from C\\n"); return 0; }\n')
    await writeFile(join(ws, 'main.cc'), '#include <iostream>\nint main () { std::cout << "hello from C++" << std::endl; return 0; }\n')
    const env = { PATH: `${bin}:${SYSTEM_PATH}`, LC_ALL: 'C' }
    const cases = [
      ['cc', '-O2', '-o', 'hello', 'main.c'],
      ['c++', '-O2', '-o', 'hello++', 'main.cc'],
      ['my-cc', '-O2', '-c', 'main.c', '-o', 'chain.o']
    ]
    for (const argv of cases) {
      const out = argv[argv.indexOf('-o') + 1]
      const r = await runJob(a, ['--remote', '--', ...argv], { cwd: ws, env })
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`)
      assert.equal(r.stderr, '')
      const remote = await readFile(join(ws, out))
      execFileSync(argv[0], [...argv.slice(1, argv.indexOf('-o') + 1), `${out}.local`, ...argv.slice(argv.indexOf('-o') + 2)], { cwd: ws, env: { ...process.env, ...env } })
      assert.ok(remote.equals(await readFile(join(ws, `${out}.local`))), `${argv.join(' ')}: byte-identical to a local compile`)
    }
    assert.equal(execFileSync(join(ws, 'hello'), { encoding: 'utf8' }), 'hello from C\n')
    assert.equal(execFileSync(join(ws, 'hello++'), { encoding: 'utf8' }), 'hello from C++\n')
    const log = (await jobLog(b)).slice(before)
    assert.deepEqual(log.map(j => j.argv[0]), ['cc', 'c++', 'my-cc'])
    assert.ok(log.every(j => j.exit === 0 && j.sandbox === 'bwrap'), JSON.stringify(log))
    // same machine, same files: the toolchain is known and nothing of it differs here
    assert.ok(log.every(j => typeof j.toolchain === 'string' && j.toolchainFiles > 1000 && j.toolchainDiffering === 0), JSON.stringify(log.map(j => [j.toolchain, j.toolchainFiles, j.toolchainDiffering])))
  })

  it('a target whose helper and header differ runs the origin\'s, and gives byte-identical output; without a sandbox it refuses', async () => {
    const [a, b] = await differing.get()
    const dir = fake
    const before = (await jobLog(b)).length
    // the two nodes really differ: B's namespace has helper B
    assert.match(execFileSync('nsenter', ['-t', String(b.proc.pid), '-m', 'cat', join(dir, 'libexec/cc1')], { encoding: 'utf8' }), /helper of toolchain B/)
    assert.match(await readFile(join(dir, 'libexec/cc1'), 'utf8'), /helper of toolchain A/)

    const ws = await tmpDir('kappa-ws-')
    await writeFile(join(ws, '.kappa-workspace'), '')
    await writeFile(join(ws, 'x.c'), 'int x;\n')
    const env = { PATH: `${dir}/bin:${SYSTEM_PATH}` }
    const driver = 'x86_64-kappafake-cc'
    execFileSync(driver, ['-c', 'x.c', '-o', 'local.o'], { cwd: ws, env: { ...process.env, ...env } })
    const local = await readFile(join(ws, 'local.o'), 'utf8')
    assert.match(local, /object by helper A/)
    for (const round of [1, 2]) {
      const r = await runJob(a, ['--remote', '--', driver, '-c', 'x.c', '-o', `remote${round}.o`], { cwd: ws, env })
      assert.equal(r.code, 0, r.stderr)
      assert.equal(await readFile(join(ws, `remote${round}.o`), 'utf8'), local, `round ${round}: the origin's helper and header ran on B`)
    }
    const log = (await jobLog(b)).slice(before)
    assert.equal(log.length, 2)
    assert.ok(log.every(j => j.exit === 0 && j.sandbox === 'bwrap' && j.toolchainDiffering === 2), JSON.stringify(log))
    assert.ok(log[0].toolchainBytesReceived > 0, 'the first job brought the origin\'s helper and header')
    assert.equal(log[1].toolchainBytesReceived, 0, 'the second found them in the store (the layer stays mounted)')

    // without a sandbox B could not show A's files: it refuses, and the job runs at home
    const [a2, b2] = await pair(prefix, ['--no-sandbox'])
    const r = await runJob(a2, ['--', driver, '-c', 'x.c', '-o', 'home.o'], { cwd: ws, env })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /differ from the origin's/)
    assert.equal(await readFile(join(ws, 'home.o'), 'utf8'), local)
    const refused = await jobLog(b2)
    assert.equal(refused.length, 1)
    assert.match(refused[0].refused, /libexec\/cc1|fake\.h/)
  })
})
