/**
 * The workspace in-process: its root, its Merkle tree kept by the watched
 * scanner, the target's store and mirror, a job's view, its change set, and
 * the origin's safe application of it. No daemons: these run in
 * milliseconds and cover what the end-to-end tests build on.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile, symlink, chmod, rm, readFile, appendFile, utimes, stat, lstat, rename } from 'node:fs/promises'
import { existsSync, watch } from 'node:fs'
import { execFileSync, execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpDir, cleanup, skipUnlessNobodyReads } from './helpers/node.js'
import { describeTree, treeHash, writeTree, copyTree, manualClock } from './helpers/workspace.js'
import {
  findWorkspaceRoot, WorkspaceScanner, ContentStore, Mirror, mountOverlay, copyView, releaseView, mountsUnder, sweepMounts, computeChanges, ChangeApplier, ChangeRefused,
  encodeDirectory, decodeDirectory, sendVerified, sendHeld, ChangedWhileSent, jobEnvironment, hex, sha256, type Snapshot, type JobView, type IncomingChange, type MirrorUpdate
} from '../src/workspace/index.js'
import { RecentContent } from '../src/workspace/blob.js'
import { Liveness } from '../src/migrate/liveness.js'
import { decodeFrame } from '../src/migrate/channel.js'
import { Frame } from '../src/wire/migrate.js'
import type { FileNode } from '../src/wire/workspace.js'

const isRoot = process.getuid?.() === 0

/** What a target does with a snapshot: every directory and blob into its store. */
/** A workspace of `files` and its mirror on a target, built from a store (`built`: what that first update did). */
async function mirrorOf (files: Record<string, string>): Promise<{ ws: string, scanner: WorkspaceScanner, store: ContentStore, mirror: Mirror, snap: Snapshot, built: MirrorUpdate }> {
  const ws = await tmpDir()
  await writeTree(ws, files)
  const scanner = new WorkspaceScanner()
  const store = new ContentStore(await tmpDir())
  await store.open()
  const mirror = new Mirror(await tmpDir(), store)
  await mirror.open()
  const snap = await scanner.snapshot(ws)
  await fillStore(store, snap)
  return { ws, scanner, store, mirror, snap, built: await mirror.update(snap.digest, snap.rootMode) }
}

/** mirrorOf, and a job's overlay over the mirror (root only). */
async function jobOverMirror (files: Record<string, string>): Promise<Awaited<ReturnType<typeof mirrorOf>> & { view: JobView }> {
  const m = await mirrorOf(files)
  return { ...m, view: await mountOverlay(await tmpDir(), m.mirror.tree) }
}

async function fillStore (store: ContentStore, snap: Snapshot): Promise<void> {
  for (const bytes of snap.directories.values()) await store.putDirectory(bytes)
  const walk = async (digest: string, prefix: string): Promise<void> => {
    const dir = decodeDirectory(snap.directories.get(digest) as Uint8Array)
    for (const f of dir.files) {
      const d = hex(f.digest)
      if (store.hasBlob(d)) continue
      const blob = await store.receive(d, Number(f.size))
      await blob.write(await readFile(join(snap.root, prefix, f.name)))
      await blob.finish()
    }
    for (const sub of dir.directories) await walk(hex(sub.digest), join(prefix, sub.name))
  }
  await walk(snap.digest, '')
}

describe('workspace: root, tree, store, mirror, change sets (in-process)', function () {
  this.timeout(60_000)
  afterEach(cleanup)

  describe('the workspace root', () => {
    it('is the nearest git work tree or marker, stops below the home, never /', async () => {
      const home = await tmpDir('kappa-home-')
      // a dotfiles repository at ~ must not make every job ship the whole home
      await mkdir(join(home, '.git'))
      await mkdir(join(home, 'proj/src/deep'), { recursive: true })
      assert.equal(await findWorkspaceRoot(join(home, 'proj/src/deep'), home), join(home, 'proj/src/deep'))
      assert.equal(await findWorkspaceRoot(home, home), home)
      await mkdir(join(home, 'proj/.git'))
      assert.equal(await findWorkspaceRoot(join(home, 'proj/src/deep'), home), join(home, 'proj'))
      await writeFile(join(home, 'proj/src/.kappa-workspace'), '')
      assert.equal(await findWorkspaceRoot(join(home, 'proj/src/deep'), home), join(home, 'proj/src'))
      // a git work tree whose .git is a file (a worktree, a submodule)
      await mkdir(join(home, 'other/sub'), { recursive: true })
      await writeFile(join(home, 'other/.git'), 'gitdir: elsewhere\n')
      assert.equal(await findWorkspaceRoot(join(home, 'other/sub'), home), join(home, 'other'))
      // the home is a workspace only when it says so
      await rm(join(home, '.git'), { recursive: true })
      await writeFile(join(home, '.kappa-workspace'), '')
      await mkdir(join(home, 'plain'))
      assert.equal(await findWorkspaceRoot(join(home, 'plain'), home), home)
      // outside the home: up to, never including, /
      const outside = await tmpDir()
      await mkdir(join(outside, 'a/b'), { recursive: true })
      assert.equal(await findWorkspaceRoot(join(outside, 'a/b'), home), join(outside, 'a/b'))
      await assert.rejects(findWorkspaceRoot('/', home), /current directory is \//)
      await assert.rejects(findWorkspaceRoot(join(outside, 'a'), home, '/'), /whole file system/)
      await assert.rejects(findWorkspaceRoot(join(outside, 'a'), home, join(outside, 'a/b')), /does not hold the current directory/)
      assert.equal(await findWorkspaceRoot(join(outside, 'a/b'), home, '..'), join(outside, 'a'))
    })

    it('the environment travels without the host-specific variables, with --env and --no-env', () => {
      const env = jobEnvironment({ PATH: '/bin', MYVAR: 'x', DISPLAY: ':0', SSH_AUTH_SOCK: '/s', KAPPA_HOME: '/k', XDG_RUNTIME_DIR: '/r', HOME: '/root', LANG: 'C', 'BAD=NAME': 'v', NUL: 'a\0b' }, ['DISPLAY'], ['LANG'])
      assert.deepEqual(env, { PATH: '/bin', MYVAR: 'x', DISPLAY: ':0' })
    })
  })

  describe('the scanner (origin)', () => {
    it('describes a tree as REAPI does: equal trees, equal digests; a change touches only the directories on its path', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'a.txt': 'a', 'src/x.c': 'int x;', 'src/deep/er/y.c': 'int y;', 'tool.sh:755': '#!/bin/sh\necho hi\n', 'include/x.h': '' })
      await symlink('src/x.c', join(ws, 'link'))
      const scanner = new WorkspaceScanner()
      const first = await scanner.snapshot(ws)
      assert.equal(first.files, 5)
      assert.equal(first.lookup('tool.sh')?.kind, 'file')
      assert.equal((first.lookup('tool.sh') as any).mode, 0o755)
      assert.deepEqual(first.lookup('link'), { kind: 'symlink', target: 'src/x.c' })
      // the same tree read cold by another scanner
      const cold = await new WorkspaceScanner().snapshot(ws)
      assert.equal(cold.digest, first.digest)
      // no sleep: the write is seen by the very next snapshot
      await writeFile(join(ws, 'src/deep/er/y.c'), 'int y = 2;')
      const second = await scanner.snapshot(ws)
      assert.notEqual(second.digest, first.digest)
      const changed = [...second.directories.keys()].filter(d => !first.directories.has(d))
      assert.equal(changed.length, 4, 'root, src, src/deep, src/deep/er')
      assert.equal(second.digest, (await new WorkspaceScanner().snapshot(ws)).digest)
      // the same size again, at once (within the racy window): read again, not taken from the stat cache
      await writeFile(join(ws, 'src/deep/er/y.c'), 'int y = 3;')
      const third = await scanner.snapshot(ws)
      assert.notEqual(third.digest, second.digest)
      assert.equal((third.lookup('src/deep/er/y.c') as any).digest, hex(sha256(Buffer.from('int y = 3;'))))
      scanner.close()
    })

    it('leaves out .git, kappa\'s own temporaries, what .kappaignore names, and special files; follows a changed .kappaignore', async () => {
      const ws = await tmpDir()
      // sub/.kappa-….part: a job's result on its way into place (kappa's own temporary, renamed a moment later)
      await writeTree(ws, { 'keep.c': 'k', 'build/x.o': 'o', 'debug.log': 'l', '.git/HEAD': 'ref', 'sub/.git': 'gitdir: x', 'sub/y.c': 'y', 'sub/.kappa-0a1b2c.part': 'half', '.kappaignore': 'build/\n*.log\n' })
      execFileSync('mkfifo', [join(ws, 'pipe')])
      const scanner = new WorkspaceScanner()
      const snap = await scanner.snapshot(ws)
      const paths = (await describePaths(snap)).sort()
      assert.deepEqual(paths, ['.kappaignore', 'keep.c', 'sub/', 'sub/y.c'])
      assert.equal(snap.ignored('build/new.o', false), true)
      assert.equal(snap.ignored('.git/hooks/x', false), true)
      await writeFile(join(ws, '.kappaignore'), '*.log\n')
      const again = await scanner.snapshot(ws)
      assert.deepEqual((await describePaths(again)).sort(), ['.kappaignore', 'build/', 'build/x.o', 'keep.c', 'sub/', 'sub/y.c'])
      // the node's own home and the user's credentials, whatever .kappaignore says
      await writeTree(ws, { '.ssh/id_ed25519': 'key', 'node-home/identity.key': 'key' })
      const guarded = await scanner.snapshot(ws, [join(ws, '.ssh'), join(ws, 'node-home'), '/elsewhere/.ssh'])
      assert.deepEqual((await describePaths(guarded)).sort(), ['.kappaignore', 'build/', 'build/x.o', 'keep.c', 'sub/', 'sub/y.c'])
      assert.equal(guarded.ignored('.ssh/authorized_keys', false), true)
      assert.equal(guarded.ignored('node-home', true), true)
      scanner.close()
    })

    it('without watchers (inotify limit reached) it scans in full and still follows every change', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'a/b/c.txt': '1', 'd.txt': '2' })
      let calls = 0
      const scanner = new WorkspaceScanner({
        watch: () => {
          calls++
          const err = new Error('ENOSPC: System limit for number of file watchers reached') as NodeJS.ErrnoException
          err.code = 'ENOSPC'
          throw err
        }
      })
      const one = await scanner.snapshot(ws)
      assert.equal(scanner.watching(ws), false)
      await writeFile(join(ws, 'a/b/c.txt'), '3')
      await rm(join(ws, 'd.txt'))
      const two = await scanner.snapshot(ws)
      assert.notEqual(two.digest, one.digest)
      assert.equal(two.digest, (await new WorkspaceScanner().snapshot(ws)).digest)
      assert.equal(calls, 1, 'it stops trying to watch')
      scanner.close()
    })

    it('a watcher error also falls back to full scans', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'a.txt': '1' })
      const watchers: any[] = []
      const scanner = new WorkspaceScanner({ watch: (path, listener) => { const w = watch(path, { persistent: false }, listener); watchers.push(w); return w } })
      await scanner.snapshot(ws)
      assert.equal(scanner.watching(ws), true)
      watchers[0].emit('error', new Error('boom'))
      assert.equal(scanner.watching(ws), false)
      await writeFile(join(ws, 'a.txt'), '2')
      assert.equal(((await scanner.snapshot(ws)).lookup('a.txt') as any).digest, hex(sha256(Buffer.from('2'))))
      scanner.close()
    })

    it('over its limits, a workspace is refused with the fix named', async () => {
      const ws = await tmpDir()
      await writeTree(ws, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, 'x'])))
      await assert.rejects(new WorkspaceScanner({ maxFiles: 5 }).snapshot(ws), /over 5 files: list what jobs do not need in .*\.kappaignore, or give a smaller root with --workspace DIR/)
      await assert.rejects(new WorkspaceScanner({ maxBytes: 4 }).snapshot(ws), /\.kappaignore.*--workspace/)
    })

    it('what .kappaignore leaves out is not read at all, not even by the first snapshot: it counts against no limit', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'a.c': 'a', '.kappaignore': 'node_modules/\n', ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`node_modules/m${i}`, 'x'.repeat(100)])) })
      const scanner = new WorkspaceScanner({ maxFiles: 5, maxBytes: 64 })
      assert.deepEqual((await describePaths(await scanner.snapshot(ws))).sort(), ['.kappaignore', 'a.c'])
      // and a rule taken out brings the files in, and over the limit
      await writeFile(join(ws, '.kappaignore'), '')
      await assert.rejects(scanner.snapshot(ws), /over (5 files|0 MiB): list what jobs do not need/)
      scanner.close()
    })

    it('an unreadable file is an error, never a silent omission', async function () {
      if (!isRoot) this.skip()
      const scanner = fileURLToPath(new URL('../src/workspace/index.js', import.meta.url))
      skipUnlessNobodyReads(this, scanner)
      const ws = await tmpDir()
      await chmod(ws, 0o755)
      await writeTree(ws, { 'ok.txt': 'fine', 'secret.txt:600': 'no' })
      // as nobody (root reads everything)
      const script = `import { WorkspaceScanner } from ${JSON.stringify(scanner)}
new WorkspaceScanner().snapshot(${JSON.stringify(ws)}).then(() => { console.log('no error') }, (e) => { console.log(e.message); process.exit(3) })`
      const r = await new Promise<{ code: number | null, out: string }>((resolve) => {
        execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], (err, stdout) => { resolve({ code: err == null ? 0 : (err as any).code, out: stdout }) })
      })
      assert.equal(r.code, 3, r.out)
      assert.match(r.out, /cannot read .*secret\.txt \(permission denied\).*\.kappaignore/)
    })

    it('a file that changed since it was described is never sent under its old digest', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'data.bin': 'version one' })
      const snap = await new WorkspaceScanner().snapshot(ws)
      const entry = snap.lookup('data.bin') as any
      const sent: Buffer[] = []
      await sendVerified(join(ws, 'data.bin'), entry.size, entry.digest, 4, async (d) => { sent.push(Buffer.from(d)) })
      assert.equal(Buffer.concat(sent).toString(), 'version one')
      await writeFile(join(ws, 'data.bin'), 'version two')
      await assert.rejects(sendVerified(join(ws, 'data.bin'), entry.size, entry.digest, 4, async () => {}), ChangedWhileSent)
      await appendFile(join(ws, 'data.bin'), ' and more')
      await assert.rejects(sendVerified(join(ws, 'data.bin'), entry.size, entry.digest, 4, async () => {}), ChangedWhileSent)
    })
  })

    it('a small file renamed or rewritten after it was described is still sent as described (a build\'s .deps/x.Tpo), from the content the scanner held', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { '.deps/x.Tpo': 'x.o: x.c x.h\n', 'y.o': 'object one' })
      const snap = await new WorkspaceScanner().snapshot(ws)
      const tpo = snap.lookup('.deps/x.Tpo') as any
      const obj = snap.lookup('y.o') as any
      // what make does next: mv -f .deps/x.Tpo .deps/x.Plo, and another compile rewrites y.o
      await rename(join(ws, '.deps/x.Tpo'), join(ws, '.deps/x.Plo'))
      await writeFile(join(ws, 'y.o'), 'object two, longer')
      for (const [entry, was] of [[tpo, 'x.o: x.c x.h\n'], [obj, 'object one']] as const) {
        const held = snap.content(entry.digest) as Buffer
        assert.equal(held.toString(), was)
        const sent: Buffer[] = []
        await sendHeld(held, 4, async (d, first) => { sent.push(Buffer.from(d)); assert.equal(first, sent.length === 1) })
        assert.equal(Buffer.concat(sent).toString(), was)
        assert.equal(sha256(Buffer.concat(sent)).toString('hex'), entry.digest)
      }
    })

    it('a file the origin wrote from a change set is held too, and one being rewritten all the time is described as one read found it', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'a.c': 'int a;\n' })
      const scanner = new WorkspaceScanner()
      await scanner.snapshot(ws)
      // a job's change set: written here, recorded with its content; make then renames it
      const tpo = Buffer.from('a.o: a.c\n')
      await writeFile(join(ws, 'a.Tpo'), tpo)
      scanner.recordWrite(ws, 'a.Tpo', await stat(join(ws, 'a.Tpo')), sha256(tpo), tpo)
      const snap = await scanner.snapshot(ws)
      await rename(join(ws, 'a.Tpo'), join(ws, 'a.Plo'))
      assert.equal(snap.content((snap.lookup('a.Tpo') as any).digest)?.toString(), 'a.o: a.c\n')
      // an object another compile keeps writing while snapshots are taken: never "kept changing"
      const writer = execFile('/bin/sh', ['-c', `i=0; while :; do i=$((i+1)); printf "object %s\\n" $i > '${join(ws, 'x.o')}'; done`])
      try {
        await writeFile(join(ws, 'x.o'), 'object 0\n')
        for (let i = 0; i < 20; i++) {
          const s = await scanner.snapshot(ws)
          const x = s.lookup('x.o') as any
          const held = s.content(x.digest) as Buffer
          assert.equal(held.length, x.size)
          assert.equal(sha256(held).toString('hex'), x.digest)
          // one of the writer's versions, or the start of one (a read between its write calls)
          const text = held.toString()
          assert.ok(/^object \d+\n?$/.test(text) || 'object '.startsWith(text), text)
        }
      } finally {
        writer.kill('SIGKILL')
      }
    })

    it('a directory removed and made again (rm -rf build && cp -a pristine build) is read anew, and watched anew', async () => {
      const ws = await tmpDir()
      await writeTree(ws, { 'build/sub/old.o': 'old', 'build/keep.h': 'one', 'pristine/sub/new.c': 'new', 'pristine/keep.h': 'two' })
      const scanner = new WorkspaceScanner()
      const before = await scanner.snapshot(ws)
      assert.ok(before.lookup('build/sub/old.o') != null)
      await rm(join(ws, 'build'), { recursive: true })
      execFileSync('cp', ['-a', join(ws, 'pristine'), join(ws, 'build')])
      const after = await scanner.snapshot(ws)
      assert.equal(after.lookup('build/sub/old.o'), undefined)
      assert.ok(after.lookup('build/sub/new.c') != null)
      assert.equal(after.digest, (await new WorkspaceScanner().snapshot(ws)).digest, 'the same tree as a scan from nothing')
      // what changes in the new directories afterwards is seen too (their own watchers)
      await writeFile(join(ws, 'build/sub/made.o'), 'made')
      await writeFile(join(ws, 'build/keep.h'), 'three')
      const later = await scanner.snapshot(ws)
      assert.ok(later.lookup('build/sub/made.o') != null)
      assert.equal(later.digest, (await new WorkspaceScanner().snapshot(ws)).digest)
    })

    it('reading only the entries inotify named, it agrees with a scan from nothing after every kind of change', async () => {
      const ws = await tmpDir()
      const files: Record<string, string> = {}
      for (let i = 0; i < 200; i++) files[`build/f${i}.o`] = `object ${i}`
      await writeTree(ws, { ...files, 'build/.deps/a.Plo': 'dep', 'build/sub/x.c': 'x', 'src/a.c': 'a' })
      const scanner = new WorkspaceScanner()
      await scanner.snapshot(ws)
      const steps: Array<[string, () => Promise<void>]> = [
        ['a new object', async () => { await writeFile(join(ws, 'build/new.o'), 'new') }],
        ['make\'s rename of .Tpo over .Plo', async () => { await writeFile(join(ws, 'build/.deps/a.Tpo'), 'dep 2'); await rename(join(ws, 'build/.deps/a.Tpo'), join(ws, 'build/.deps/a.Plo')) }],
        ['a rewrite of the same size', async () => { await writeFile(join(ws, 'build/f1.o'), 'OBJECT 1') }],
        ['chmod +x', async () => { await chmod(join(ws, 'build/f2.o'), 0o755) }],
        ['rm', async () => { await rm(join(ws, 'build/f3.o')) }],
        ['a file replaced by a symlink', async () => { await rm(join(ws, 'build/f4.o')); await symlink('f5.o', join(ws, 'build/f4.o')) }],
        ['a file replaced by a directory', async () => { await rm(join(ws, 'build/f6.o')); await mkdir(join(ws, 'build/f6.o')); await writeFile(join(ws, 'build/f6.o/in'), 'in') }],
        ['mkdir -p with files', async () => { await mkdir(join(ws, 'build/new/deep'), { recursive: true }); await writeFile(join(ws, 'build/new/deep/d.o'), 'd') }],
        ['rm -rf of a subdirectory', async () => { await rm(join(ws, 'build/sub'), { recursive: true }) }],
        ['a file moved to another directory', async () => { await rename(join(ws, 'build/f7.o'), join(ws, 'src/f7.o')) }],
        ['over 256 names at once (read whole)', async () => { for (let i = 0; i < 300; i++) await writeFile(join(ws, `build/many${i}.o`), `m${i}`) }]
      ]
      for (const [what, change] of steps) {
        await change()
        const watched = await scanner.snapshot(ws)
        assert.equal(watched.digest, (await new WorkspaceScanner().snapshot(ws)).digest, `after ${what}`)
      }
    })

    it('keeps only the most recent small files\' content, within its byte budget', () => {
      const recent = new RecentContent(4096)
      const kib = (fill: number): Buffer => Buffer.alloc(1024, fill)
      for (let i = 0; i < 3; i++) recent.put(`d${i}`, kib(i))
      recent.put('d0', kib(0)) // seen again: now the most recent
      recent.put('d3', kib(3)) // over the budget: d1, the oldest, goes
      assert.equal(recent.get('d1'), undefined)
      for (const d of ['d0', 'd2', 'd3']) assert.ok(recent.get(d) != null, d)
      recent.put('big', Buffer.alloc(8192)) // larger than the whole budget: not kept, nothing evicted for it
      assert.equal(recent.get('big'), undefined)
      assert.ok(recent.get('d3') != null)
      // a copy: the caller's buffer may be reused
      const buffer = Buffer.from('abc')
      recent.put('abc', buffer)
      buffer.fill(0)
      assert.equal(recent.get('abc')?.toString(), 'abc')
    })

  it('a directory encodes its entries in UTF-8 byte order, whatever order they come in (astral names too)', () => {
    // UTF-16 puts an astral character (a surrogate pair) before U+FFFD; UTF-8, as REAPI, after it
    const names = ['😀', '\uFFFD', 'a', 'Z', 'é']
    const file = (name: string): FileNode => ({ name, digest: Uint8Array.from(sha256(Buffer.from(name))), size: 1n, mode: 0o644, mtimeMs: 0n })
    const forward = encodeDirectory({ files: names.map(file), directories: [], symlinks: [] })
    const backward = encodeDirectory({ files: [...names].reverse().map(file), directories: [], symlinks: [] })
    assert.equal(forward.digest, backward.digest)
    assert.deepEqual(decodeDirectory(forward.bytes).files.map(f => f.name), ['Z', 'a', 'é', '\uFFFD', '😀'])
    const plain = encodeDirectory({ files: ['b', 'a', 'B'].map(file), directories: [], symlinks: [] })
    assert.deepEqual(decodeDirectory(plain.bytes).files.map(f => f.name), ['B', 'a', 'b'])
  })

  describe('the store (target)', () => {
    it('keeps blobs and directories by their verified digests, evicts the least recently used, never what a job holds', async () => {
      const dir = await tmpDir()
      const store = new ContentStore(dir, 25)
      await store.open()
      const { bytes, digest } = encodeDirectory({ files: [], directories: [], symlinks: [{ name: 'l', target: 'x' }] })
      assert.equal(await store.putDirectory(bytes), digest)
      assert.throws(() => decodeDirectory(encodeDirectory({ files: [], directories: [], symlinks: [{ name: '..', target: 'x' }] }).bytes), /unsafe name/)
      const put = async (content: string): Promise<string> => {
        const d = hex(sha256(Buffer.from(content)))
        const b = await store.receive(d, content.length)
        await b.write(Buffer.from(content))
        await b.finish()
        return d
      }
      const wrong = await store.receive(hex(sha256(Buffer.from('right'))), 5)
      await wrong.write(Buffer.from('wrong'))
      await assert.rejects(wrong.finish(), /does not match its digest/)
      assert.equal(store.hasBlob(hex(sha256(Buffer.from('wrong')))), false)
      const a = await put('aaaaaaaaaa')
      store.pin([a])
      await new Promise(resolve => setTimeout(resolve, 5))
      const b = await put('bbbbbbbbbb')
      await new Promise(resolve => setTimeout(resolve, 5))
      const c = await put('cccccccccc')
      // over 25 bytes: the directory went first (least recently used), then b, the oldest not pinned
      assert.equal(store.hasBlob(a), true)
      assert.equal(store.hasBlob(b), false)
      assert.equal(store.hasBlob(c), true)
      assert.equal(await readFile(store.blobPath(c), 'utf8'), 'cccccccccc')
      // a restart finds the same index
      const again = new ContentStore(dir, 1000)
      await again.open()
      assert.equal(again.hasBlob(c) && again.hasBlob(a) && !again.hasBlob(b) && !again.hasDirectory(digest), true)
    })
  })

  for (const kind of ['overlay', 'copy'] as const) {
    describe(`a job's view (${kind}) and its change set`, () => {
      before(function () {
        if (kind === 'overlay' && !isRoot) this.skip()
      })

      it('the change set of rm, mv, chmod +x, ln -s, mkdir -p, writes and an unchanged copy-up, applied at home, gives what a local run gives', async () => {
        const ws = await tmpDir()
        await writeTree(ws, { 'a': 'A\n', 'c': 'C\n', 'in.txt': 'hello\n', 'sub/keep.txt': 'keep\n', 'sub/edit.txt': 'before\n', 'gone/x': 'x', 'touched': 'same\n' })
        await writeFile(join(ws, 'old'), 'old\n')
        const script = 'rm old; mv a b; chmod +x c; ln -s c d; mkdir -p e/f; tr a-z A-Z < in.txt > out.txt; echo after >> sub/edit.txt; rm -r gone; mkdir gone; echo new > gone/y; touch touched; chmod 600 sub/keep.txt'
        const scanner = new WorkspaceScanner()
        const snap = await scanner.snapshot(ws)
        const store = new ContentStore(await tmpDir())
        await store.open()
        await fillStore(store, snap)
        const mirror = new Mirror(await tmpDir(), store)
        await mirror.open()
        const built = await mirror.update(snap.digest, snap.rootMode)
        assert.equal(built.written, 8)
        assert.deepEqual(await describeTree(mirror.tree), await describeTree(ws))
        const jobDir = await tmpDir()
        const view: JobView = kind === 'overlay' ? await mountOverlay(jobDir, mirror.tree) : await copyView(jobDir, mirror.tree)
        try {
          // the job
          execFileSync('sh', ['-c', script], { cwd: view.merged })
          // a local run of the same, for comparison
          const local = await tmpDir()
          copyTree(ws, local)
          execFileSync('sh', ['-c', script], { cwd: local })

          const set = await computeChanges(view, store, snap.digest, snap.rootMode)
          const summary = set.changes.map(c => `${c.kind} ${c.path}`)
          // deletions deepest first, everything else parents first
          assert.deepEqual(summary, [
            'delete gone/x', 'delete a', 'delete old',
            'directory e', 'directory e/f',
            'file b', 'file out.txt', 'file gone/y', 'file sub/edit.txt',
            'symlink d',
            'mode c', 'mode sub/keep.txt'
          ])
          // the job could not change the mirror
          assert.deepEqual(await describeTree(mirror.tree), await describeTree(ws))

          const applier = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, set.changes.map(toIncoming), { files: set.files, bytes: set.bytes })
          for (const [digest, size] of applier.expected()) {
            const source = set.changes.find(c => c.kind === 'file' && c.digest === digest) as any
            const sink = applier.blob(digest, size)
            await sink.write(await readFile(source.source))
            await sink.finish()
          }
          const { conflicts } = await applier.commit()
          assert.deepEqual(conflicts, [])
          assert.deepEqual(await describeTree(ws), await describeTree(local))
          assert.deepEqual(await describeTree(ws), await describeTree(view.merged))
        } finally {
          await releaseView(view)
        }
        scanner.close()
      })
    })
  }

  it('a file the origin removed while the job ran (a later job updated the mirror) is not the job\'s deletion, and one the origin made again survives', async function () {
    if (!isRoot) this.skip()
    const { ws, scanner, store, mirror, snap, view } = await jobOverMirror({ 'x.c': 'int x;\n', '.deps/y.Tpo': 'dep\n', 'y.loT': 'lt\n', 'gone/z': 'z', 'keep': 'k\n' })
    try {
      // the job writes its object and deletes one file of its own
      execFileSync('sh', ['-c', 'echo obj > x.o; rm keep'], { cwd: view.merged })
      // meanwhile at home: make moves the dependency file, libtool its object file, a directory goes;
      // a later job's snapshot brings the mirror up to date under the running job
      await rm(join(ws, '.deps/y.Tpo'))
      await rm(join(ws, 'gone'), { recursive: true })
      await rm(join(ws, 'y.loT'))
      const later = await scanner.snapshot(ws)
      await fillStore(store, later)
      await mirror.update(later.digest, later.rootMode)
      // and y.loT is written again at home before the job ends
      await writeFile(join(ws, 'y.loT'), 'again\n')

      const set = await computeChanges(view, store, snap.digest, snap.rootMode)
      assert.deepEqual(set.changes.map(c => `${c.kind} ${c.path}`), ['delete keep', 'file x.o'])
      const applier = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, set.changes.map(toIncoming), { files: set.files, bytes: set.bytes })
      for (const [digest, size] of applier.expected()) {
        const sink = applier.blob(digest, size)
        await sink.write(Buffer.from('obj\n'))
        await sink.finish()
      }
      assert.deepEqual((await applier.commit()).conflicts, [])
      assert.equal(await readFile(join(ws, 'y.loT'), 'utf8'), 'again\n')
      assert.equal(await readFile(join(ws, 'x.o'), 'utf8'), 'obj\n')
      assert.equal(existsSync(join(ws, 'keep')), false)
    } finally {
      await releaseView(view)
      scanner.close()
    }
  })

  it('a mirror rebuilt from scratch under a running job: the job\'s change set is what it wrote and deleted, not the whole workspace deleted', async function () {
    if (!isRoot) this.skip()
    const { ws, scanner, store, mirror, snap, view } = await jobOverMirror({ 'x.c': 'int x;\n', 'sub/h.h': 'h\n', 'old.txt': 'o\n' })
    try {
      execFileSync('sh', ['-c', 'echo obj > x.o; rm old.txt'], { cwd: view.merged })
      // the mirror's directory goes and comes back whole (as after a lost state file): the job's lower is empty now
      await rm(mirror.tree, { recursive: true })
      await mkdir(mirror.tree)
      copyTree(ws, mirror.tree)
      const set = await computeChanges(view, store, snap.digest, snap.rootMode)
      assert.deepEqual(set.changes.map(c => `${c.kind} ${c.path}`), ['delete old.txt', 'file x.o'])
    } finally {
      await releaseView(view)
      scanner.close()
    }
  })

  it('overlays a dead daemon left mounted are swept at start-up', async function () {
    if (!isRoot) this.skip()
    const jobs = await tmpDir()
    const lower = await tmpDir()
    await writeTree(lower, { 'x.txt': 'x' })
    await mountOverlay(join(jobs, 'job1'), lower)
    await mountOverlay(join(jobs, 'job2'), lower)
    assert.equal((await mountsUnder(jobs)).length, 2)
    assert.equal(await sweepMounts(jobs), 2)
    assert.deepEqual(await mountsUnder(jobs), [])
  })

  it('a mirror update costs what changed, not the workspace', async () => {
    const files: Record<string, string> = {}
    for (let d = 0; d < 20; d++) for (let f = 0; f < 25; f++) files[`d${d}/f${f}.txt`] = `${d}-${f}`
    files['deep/a/b/c/leaf.txt'] = 'leaf'
    const { ws, scanner, store, mirror, built } = await mirrorOf(files)
    assert.equal(built.written, 501)
    await writeFile(join(ws, 'deep/a/b/c/leaf.txt'), 'changed')
    const two = await scanner.snapshot(ws)
    await fillStore(store, two)
    const update = await mirror.update(two.digest, two.rootMode)
    assert.deepEqual(update, { written: 1, removed: 0, directoriesVisited: 5 })
    assert.deepEqual(await describeTree(mirror.tree), await describeTree(ws))
    assert.deepEqual(await mirror.update(two.digest, two.rootMode), { written: 0, removed: 0, directoriesVisited: 0 })
    scanner.close()
  })

  describe('the origin refuses a bad change set whole, writing nothing (issue 11, acceptance 3)', () => {
    let ws: string
    let outside: string
    let snap: Snapshot
    const blob = (s: string): { digest: string, size: number } => ({ digest: hex(sha256(Buffer.from(s))), size: Buffer.byteLength(s) })
    const file = (path: string, content = 'x', mode = 0o644): IncomingChange => ({ kind: 'file', path, mode, ...blob(content) })

    beforeEach(async () => {
      ws = await tmpDir()
      outside = await tmpDir()
      await writeTree(ws, { 'src/a.c': 'a', 'wide.txt:666': 'w', '.kappaignore': 'secret/\n' })
      await mkdir(join(ws, '.git/hooks'), { recursive: true })
      await symlink(outside, join(ws, 'out'))
      snap = await new WorkspaceScanner().snapshot(ws)
    })

    const refused = async (changes: IncomingChange[], pattern: RegExp, announced?: { files: number, bytes: number }, limits: { maxFiles?: number, maxBytes?: number } = {}): Promise<void> => {
      const before = await treeHash(ws)
      const bytes = [...new Map(changes.filter(c => c.kind === 'file').map(c => [c.digest, c.size as number])).values()].reduce((n, s) => n + s, 0)
      await assert.rejects(ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022, ...limits }, changes, announced ?? { files: changes.length, bytes }), (err: Error) => {
        assert.ok(err instanceof ChangeRefused, err.message)
        assert.match(err.message, pattern)
        assert.equal(err.message.split('\n').length, 1)
        return true
      })
      assert.equal(await treeHash(ws), before, 'nothing written in the workspace')
      assert.deepEqual(await describeTree(outside), [], 'nothing written outside')
    }

    it('../x, an absolute path, a path through a symlink, .git/, an ignored path, .kappaignore itself', async () => {
      await refused([file('../x')], /outside the workspace/)
      await refused([file('src/../../x')], /outside the workspace/)
      await refused([file(`${outside}/x`)], /absolute path/)
      await refused([file('out/x')], /goes through the symlink out/)
      await refused([{ kind: 'directory', path: 'out/d', mode: 0o755 }], /goes through the symlink out/)
      await refused([file('.git/hooks/post-checkout', 'x', 0o755)], /into \.git/)
      await refused([file('secret/key')], /\.kappaignore excludes/)
      await refused([file('.kappaignore')], /rewrites \.kappaignore/)
      await refused([file('nodir/x')], /does not exist/)
    })

    it('modes a umask would not give, setuid, and what is over the limits or the announcement', async () => {
      await refused([file('new.txt', 'x', 0o666)], /mode 0666 is not one this origin's umask 022 gives/)
      await refused([file('tool', 'x', 0o4755)], /setuid/)
      await refused([{ kind: 'mode', path: 'src/a.c', mode: 0o2755 }], /setuid, setgid/)
      await refused([file('a.bin', 'xxxxxxxxxx')], /over this origin's limit of 5/, undefined, { maxBytes: 5 })
      await refused([file('a'), file('b', 'y'), file('c', 'z')], /over this origin's limit of 2/, undefined, { maxFiles: 2 })
      await refused([file('big', 'x')], /1 bytes, 0 were announced/, { files: 1, bytes: 0 })
      await refused([file('big', 'x')], /2 were announced/, { files: 2, bytes: 1 })
      await refused([{ kind: 'file', path: 'huge', mode: 0o644, digest: hex(sha256(Buffer.from('x'))), size: 2 ** 40 }], /over this origin's limit/)
      // an existing file keeps its mode: not a change the job made
      const ok = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, [file('wide.txt', 'new', 0o666)], { files: 1, bytes: 3 })
      await ok.abort()
    })

    it('more blob data than announced, or a blob that does not match, is refused and nothing is written', async () => {
      const before = await treeHash(ws)
      const applier = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, [file('src/b.c', 'bbb')], { files: 1, bytes: 3 })
      const sink = applier.blob(blob('bbb').digest, 3)
      await assert.rejects(sink.write(Buffer.from('bbbb')), /more data than announced/)
      await applier.abort()
      assert.equal(await treeHash(ws), before)
      const second = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, [file('src/b.c', 'bbb')], { files: 1, bytes: 3 })
      const bad = second.blob(blob('bbb').digest, 3)
      await bad.write(Buffer.from('ccc'))
      await assert.rejects(bad.finish(), /does not match its digest/)
      await second.abort()
      assert.equal(await treeHash(ws), before)
      assert.throws(() => second.blob(blob('zzz').digest, 3), /does not name/)
    })

    it('a path the origin changed since the snapshot: the job\'s version wins, and it is reported', async () => {
      await writeFile(join(ws, 'src/a.c'), 'changed here')
      const applier = await ChangeApplier.prepare({ root: ws, lookup: snap.lookup, ignored: snap.ignored, umask: 0o022 }, [file('src/a.c', 'job')], { files: 1, bytes: 3 })
      const sink = applier.blob(blob('job').digest, 3)
      await sink.write(Buffer.from('job'))
      await sink.finish()
      const { conflicts, written } = await applier.commit()
      assert.deepEqual(conflicts, ['src/a.c'])
      assert.equal(await readFile(join(ws, 'src/a.c'), 'utf8'), 'job')
      assert.equal(written[0].path, 'src/a.c')
      assert.equal((await lstat(join(ws, 'src/a.c'))).mode & 0o777, 0o644)
    })
  })

  it('the migrate protocol refuses frame type 0 (what an empty frame decodes as) and unknown types', () => {
    assert.throws(() => decodeFrame(new Uint8Array(0)), /unknown type UNSPECIFIED/)
    assert.throws(() => decodeFrame(Frame.encode({ type: Frame.Type.UNSPECIFIED } as any)), /unknown type/)
    assert.throws(() => decodeFrame(Uint8Array.of(0x08, 0x63)), /unknown type|Invalid enum/)
    assert.equal(decodeFrame(Frame.encode({ type: Frame.Type.HEARTBEAT } as any)).type, Frame.Type.HEARTBEAT)
  })

  it('liveness: a silent target is given up after the deadline, a chatty one never (injected clock)', () => {
    const { clock, advance } = manualClock()
    let silent: number | undefined
    const watch = new Liveness(30_000, clock, (ms) => { silent = ms })
    // heartbeats every 5 s for ten minutes: a long compile that prints nothing
    for (let t = 0; t < 600_000; t += 5_000) { advance(5_000); watch.heard() }
    assert.equal(silent, undefined)
    advance(29_999)
    assert.equal(silent, undefined)
    advance(1)
    assert.equal(silent, 30_000)
    watch.stop()
  })
})

function toIncoming (c: any): IncomingChange {
  return { kind: c.kind, path: c.path, digest: c.digest, size: c.size, mode: c.mode, target: c.target }
}

async function describePaths (snap: Snapshot): Promise<string[]> {
  const out: string[] = []
  const walk = (digest: string, prefix: string): void => {
    const dir = decodeDirectory(snap.directories.get(digest) as Uint8Array)
    for (const f of dir.files) out.push(prefix + f.name)
    for (const s of dir.symlinks) out.push(prefix + s.name)
    for (const d of dir.directories) { out.push(`${prefix}${d.name}/`); walk(hex(d.digest), `${prefix}${d.name}/`) }
  }
  walk(snap.digest, '')
  return out
}

void existsSync
void stat
void utimes
