import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import type { Test } from 'tap'
import { requireTool } from '../support/tools.js'

export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOT_DIR = join(PROJECT_ROOT, 'var', 'screenshots')
export const FAILURE_DIR = join(SCREENSHOT_DIR, 'failures')

export async function launchChromium (t: Test): Promise<Browser> {
  requireTool('chromium', CHROMIUM)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => { await browser.close() })
  return browser
}

/** Saves a screenshot of `page` if the test has failed, and prints where. */
export function screenshotOnFailure (t: Test, page: () => Page | undefined, name: string): void {
  t.teardown(async () => {
    const p = page()
    if (t.passing() || p === undefined || p.isClosed()) return
    await mkdir(FAILURE_DIR, { recursive: true })
    const file = join(FAILURE_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`)
    await p.screenshot({ path: file, fullPage: true }).catch(() => {})
    t.comment(`screenshot of the failed page: ${file}`)
  })
}
