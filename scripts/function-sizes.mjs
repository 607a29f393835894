#!/usr/bin/env node
/**
 * The largest functions under a folder, in lines (every function-like node
 * with a body: declarations, methods, arrows, accessors; a nested function
 * counts on its own and inside its parent). Generated code (src/wire) is
 * left out.
 *
 *   node scripts/function-sizes.mjs [folder=src] [count=10]
 */
import ts from 'typescript'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = process.argv[2] ?? 'src'
const count = Number(process.argv[3] ?? 10)

function * sources (dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield * sources(path)
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path
  }
}

function nameOf (node, file) {
  if (node.name != null) return node.name.getText(file)
  const parent = node.parent
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(file)
  return '(anonymous)'
}

const sizes = []
for (const path of sources(root)) {
  if (path.split('/').includes('wire')) continue
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true)
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body != null) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line
      sizes.push({ lines: last - first + 1, name: nameOf(node, file), where: `${path}:${first + 1}` })
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
}
sizes.sort((a, b) => b.lines - a.lines)
for (const s of sizes.slice(0, count)) console.log(`${String(s.lines).padStart(5)}  ${s.name.padEnd(28)} ${s.where}`)
