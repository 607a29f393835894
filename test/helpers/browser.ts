/**
 * Debian's chromium, headless, driven by playwright-core (which downloads
 * no browser of its own). Undefined where chromium is not installed: the
 * tests that need it skip with a message (.ci/run installs it).
 */
import { existsSync } from 'node:fs'
import type { Browser } from 'playwright-core'

export const CHROMIUM = process.env.KAPPA_CHROMIUM ?? '/usr/bin/chromium'

/** the flags this machine's notes give for a headless chromium that reaches nothing outside */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export async function launchChromium (): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  const { chromium } = await import('playwright-core')
  // launch() gives every browser a fresh temporary --user-data-dir of its own
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: FLAGS })
}
