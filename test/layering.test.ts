import { strict as assert } from 'node:assert'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folders under src/ form layers (docs/architecture.md): a folder may
 * import folders below it, never one that imports it back. A cycle between
 * folders fails here, naming the imports that close it.
 */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')
const IMPORT = /(?:^|\s)(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])
}

/** `metric` for src/metric/x.ts; the file itself for a top-level file (src/errors.ts is a leaf of its own). */
function folderOf (file: string): string {
  const parts = relative(SRC, file).split('/')
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.[jt]s$/, '')
}

export function folderGraph (): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>()
  for (const file of sources(SRC)) {
    const from = folderOf(file)
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = folderOf(normalize(join(dirname(file), m[1] ?? m[2])))
      if (to === from) continue
      if (!graph.has(from)) graph.set(from, new Map())
      graph.get(from)?.set(to, `${relative(SRC, file)} → ${m[1] ?? m[2]}`)
    }
  }
  return graph
}

/** Strongly connected components with more than one folder (Tarjan). */
export function cycles (graph: Map<string, Map<string, string>>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++
    stack.push(v); onStack.add(v)
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v) as number, low.get(w) as number)) } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      for (;;) { const w = stack.pop() as string; onStack.delete(w); component.push(w); if (w === v) break }
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

describe('layering of src/ (no import cycle between folders)', () => {
  it('finds a cycle when one is there (the check itself works)', () => {
    const g = new Map([['a', new Map([['b', 'a.ts → b']])], ['b', new Map([['c', 'b.ts → c']])], ['c', new Map([['a', 'c.ts → a']])]])
    assert.deepEqual(cycles(g), [['a', 'b', 'c']])
  })

  it('the folders under src/ import each other without a cycle', () => {
    const graph = folderGraph()
    assert.ok(graph.size > 10, 'read the import graph of src/')
    const found = cycles(graph)
    const explain = found.map(c => c.flatMap(a => c.filter(b => graph.get(a)?.has(b) === true).map(b => graph.get(a)?.get(b))).join('; '))
    assert.deepEqual(explain, [], `import cycles between folders: ${explain.join(' | ')}`)
  })
})

describe('paths next to a module, from the daemon\'s bundle too (docs/architecture.md, Build)', () => {
  it('every new URL(…, import.meta.url) in a folder goes through ../<folder>/ or further up, and top-level files use none', () => {
    const URL_OF = /new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g
    const wrong: string[] = []
    for (const file of sources(SRC)) {
      const rel = relative(SRC, file)
      for (const m of readFileSync(file, 'utf8').matchAll(URL_OF)) {
        // the bundle is dist/src/cli/main.bundle.js: one level down, as every folder's files are
        // constants.ts starts there and walks up to the package.json it looks for
        if (rel === 'constants.ts' && m[1] === './') continue
        if (!rel.includes('/') || !m[1].startsWith('../')) wrong.push(`${rel}: ${m[1]}`)
      }
    }
    assert.deepEqual(wrong, [])
  })
})
