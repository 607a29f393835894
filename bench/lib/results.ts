/**
 * bench/RESULTS.md is written whole by `npm run bench:paper`; other benches
 * (bench/build) keep their own section in it, between markers, which the
 * paper run carries over.
 */
import { readFile, writeFile } from 'node:fs/promises'

const begin = (name: string): string => `<!-- bench:${name} -->`
const end = (name: string): string => `<!-- /bench:${name} -->`

/** Replace (or append) the section `name` of the results file. */
export async function updateResultsSection (file: string, name: string, markdown: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '')
  const section = `${begin(name)}\n${markdown.trimEnd()}\n${end(name)}\n`
  const from = text.indexOf(begin(name))
  const to = text.indexOf(end(name))
  const next = from >= 0 && to > from
    ? text.slice(0, from) + section + text.slice(to + end(name).length).replace(/^\n/, '')
    : `${text.trimEnd()}\n\n${section}`
  await writeFile(file, next)
}

/** Every marked section of the results file, to carry over when it is rewritten. */
export async function keptSections (file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '')
  const kept = [...text.matchAll(/<!-- bench:([a-z]+) -->[\s\S]*?<!-- \/bench:\1 -->\n?/g)].map(m => m[0].trimEnd())
  return kept.length === 0 ? '' : `\n${kept.join('\n\n')}\n`
}
