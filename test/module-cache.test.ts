import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { enableModuleCache } from '../src/home/module-cache.js'

const RESOLVE_CACHE = new URL('../src/home/resolve-cache.js', import.meta.url).href

/** One process (the hooks are process-wide): the cache on, `import('foo')` from the fixture, what came of it. */
async function importFoo (root: string, file: string): Promise<{ reused: number, value: string, saved: boolean }> {
  const script = `
    const { enableResolveCache } = await import(${JSON.stringify(RESOLVE_CACHE)})
    const cache = enableResolveCache(${JSON.stringify(file)}, ${JSON.stringify(root)})
    const { importFoo } = await import(${JSON.stringify(new URL(`file://${root}/main.mjs`).href)})
    const value = await importFoo()
    console.log(JSON.stringify({ reused: cache.reused, value, saved: cache.save() }))`
  return await new Promise((resolve, reject) => {
    // run in the fixture: the script's own (eval) location is then inside it too
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: root }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

/** Everything under `dir` dated `agoMs` back: the cache keeps no answer whose inputs changed since the process began. */
function backdate (dir: string, agoMs: number): void {
  const when = new Date(Date.now() - agoMs)
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) utimesSync(join(e.parentPath, e.name), when, when)
  utimesSync(dir, when, when)
}

function writePackage (dir: string, main: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'foo', type: 'module', exports: main }))
  writeFileSync(join(dir, 'a.js'), 'export default "a"\n')
  writeFileSync(join(dir, 'b.js'), 'export default "b"\n')
}

describe('module cache (where imports led, reused between starts)', () => {
  let dir: string
  let root: string
  let file: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kappa-module-cache-'))
    root = join(dir, 'install')
    file = join(dir, 'resolve.json')
    mkdirSync(root)
    writeFileSync(join(root, 'main.mjs'), 'export async function importFoo () { return (await import("foo")).default }\n')
    writePackage(join(root, 'node_modules', 'foo'), './a.js')
    backdate(root, 60_000)
  })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('answers from the file while nothing changed, and finds the new target when a package.json changes', async () => {
    assert.deepEqual(await importFoo(root, file), { reused: 0, value: 'a', saved: true })
    assert.deepEqual(await importFoo(root, file), { reused: 2, value: 'a', saved: false }, 'the second process reuses both answers (main.mjs, foo)')
    // same size, same inode: only the mtime tells
    const pkg = join(root, 'node_modules', 'foo', 'package.json')
    const before = statSync(pkg)
    writeFileSync(pkg, JSON.stringify({ name: 'foo', type: 'module', exports: './b.js' }))
    assert.equal(statSync(pkg).size, before.size)
    backdate(root, 30_000)
    assert.deepEqual(await importFoo(root, file), { reused: 0, value: 'b', saved: true })
  })

  it('drops the answers when a package is replaced, and keeps none while its inputs are newer than the process', async () => {
    assert.equal((await importFoo(root, file)).value, 'a')
    // an install: the package directory replaced by another version
    const foo = join(root, 'node_modules', 'foo')
    renameSync(foo, join(dir, 'old-foo'))
    writePackage(foo, './b.js')
    const fresh = await importFoo(root, file)
    assert.deepEqual(fresh, { reused: 0, value: 'b', saved: false }, 'files changed a moment ago: nothing is kept')
    backdate(root, 30_000)
    assert.deepEqual(await importFoo(root, file), { reused: 0, value: 'b', saved: true })
    assert.deepEqual(await importFoo(root, file), { reused: 2, value: 'b', saved: false })
  })

  it('uses no directory that others can write', () => {
    const open = join(dir, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    const cache = enableModuleCache('start', join(open, 'modules'))
    assert.equal(cache.dir, undefined)
    assert.match(cache.skipped ?? '', /writable by others/)
  })
})
