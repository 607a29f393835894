#!/usr/bin/env node
/**
 * `npm test` after the build: both tiers in one mocha run on three workers,
 * the slowest e2e files first.
 *
 * mocha --parallel hands files to its workers in the order it is given them.
 * In glob order a long file that starts last (migrate, workspace, sandbox)
 * runs alone at the end while the other workers idle; started first, the
 * short files fill in around it (longest processing time first). On this
 * 2-core machine that took the suite from ~166 % to ~174 % of a CPU.
 * The order is only a schedule: a file missing from the list still runs,
 * after the listed ones, and a listed name that no longer exists is skipped.
 *
 * Extra arguments go to mocha (e.g. `npm test -- --bail`).
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/** the e2e files by their CPU time alone, most first (`/usr/bin/time npx mocha <file>`) */
const SLOWEST_FIRST = ['install', 'migrate', 'cluster', 'workspace', 'sandbox', 'cli-ops', 'pairing', 'demo', 'fuzz-pair', 'toolchain-transfer', 'builds', 'dashboard', 'restart', 'overlay']

/** three workers keep 2 cores ~175 % busy; two left them ~165 % (docs/architecture.md) */
const JOBS = '3'

const testFiles = (dir) => readdirSync(dir).filter(f => f.endsWith('.test.js')).sort().map(f => join(dir, f))

const e2e = testFiles('dist/test/e2e')
const first = SLOWEST_FIRST.map(name => join('dist/test/e2e', `${name}.test.js`)).filter(f => existsSync(f))
const files = [...first, ...e2e.filter(f => !first.includes(f)), ...testFiles('dist/test')]

const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js')
const child = spawn(process.execPath, [mocha, '--parallel', '--jobs', JOBS, ...process.argv.slice(2), ...files], { stdio: 'inherit' })
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal != null ? 1 : 0) })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { child.kill(signal) })
