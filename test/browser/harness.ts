import { createHmac } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { browserMissing, findBrowser } from './find-browser.js'
export { startApiServer, documentedRoutes, type ApiServer } from '../real-server.js'

type Tap = {
  teardown: (fn: () => unknown) => void
  comment: (...args: unknown[]) => void
  passing: () => boolean
}

export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOT_DIR = join(PROJECT_ROOT, 'var', 'screenshots')
export const FAILURE_DIR = join(SCREENSHOT_DIR, 'failures')

export function chromiumMissing (): string | false {
  return browserMissing()
}

export async function launchChromium (t: Tap): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: findBrowser(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => { await browser.close() })
  return browser
}

/** Saves a screenshot of `page` if the test has failed, and prints where. */
export function screenshotOnFailure (t: Tap, page: () => Page | undefined, name: string): void {
  t.teardown(async () => {
    const p = page()
    if (t.passing() || p === undefined || p.isClosed()) return
    await mkdir(FAILURE_DIR, { recursive: true })
    const file = join(FAILURE_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`)
    await p.screenshot({ path: file, fullPage: true }).catch(() => {})
    t.comment(`screenshot of the failed page: ${file}`)
  })
}

/** RFC 4648 base32 (no padding needed) to bytes. */
function base32Decode (input: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const ch of input.replace(/=+$/, '').toUpperCase()) {
    const idx = alphabet.indexOf(ch)
    if (idx < 0) throw new Error(`not base32: ${ch}`)
    value = (value << 5) | idx
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) written out with node:crypto, independent of the server's library. */
export function totp (secret: string, time = Date.now(), step = 30): string {
  const counter = Math.floor(time / 1000 / step)
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000
  return String(code).padStart(6, '0')
}

/**
 * A code the server has not seen yet: servers refuse a time step at or before the last one
 * they accepted (replay), and accept one step of drift either way (RFC 6238 section 5.2).
 * So the earliest step after `lastStep` within now ± 1 is used, and only when there is none
 * does this wait for the clock to move on. Returns the code and its step.
 */
export async function freshTotp (secret: string, lastStep?: number, period = 30): Promise<{ code: string, step: number }> {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / period)
    for (const step of [now - 1, now, now + 1]) {
      if (lastStep === undefined || step > lastStep) return { code: totp(secret, step * period * 1000), step }
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}
