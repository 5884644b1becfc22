import { existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The Chromium or Chrome the browser tests drive, found the way a developer's machine has
 * it: CHROME_PATH when set, then Debian's and Ubuntu's packages, Google Chrome, and the
 * macOS applications. playwright-core downloads no browser of its own here.
 */
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
const FIXED = [
  '/usr/bin/chromium',
  '/snap/bin/chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium'
]

export class BrowserNotFoundError extends Error {}

/** The one line that installs a browser on this platform. */
export function installHint (platform: NodeJS.Platform = process.platform, osRelease = readOsRelease()): string {
  if (platform === 'darwin') return 'brew install --cask google-chrome'
  if (/^ID(_LIKE)?=.*\bubuntu\b/m.test(osRelease)) return 'sudo snap install chromium'
  if (/^ID(_LIKE)?=.*\bdebian\b/m.test(osRelease)) return 'sudo apt-get install -y chromium'
  return 'install Chromium or Google Chrome'
}

function readOsRelease (): string {
  try { return readFileSync('/etc/os-release', 'utf8') } catch { return '' }
}

function onPath (name: string, path = process.env.PATH ?? ''): string | undefined {
  return path.split(delimiter).filter(Boolean).map(dir => join(dir, name)).find(file => existsSync(file))
}

/** The browser's executable; throws with the install line when there is none. */
export function findBrowser (env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CHROME_PATH
  if (fromEnv !== undefined && fromEnv !== '') {
    if (existsSync(fromEnv)) return fromEnv
    throw new BrowserNotFoundError(`CHROME_PATH=${fromEnv} does not exist`)
  }
  const found = FIXED.find(file => existsSync(file)) ?? NAMES.map(name => onPath(name, env.PATH)).find(file => file !== undefined)
  if (found !== undefined) return found
  throw new BrowserNotFoundError(`no Chromium or Chrome found for the browser tests: ${installHint()} (or set CHROME_PATH)`)
}

/** False when a browser is there, else the message saying how to get one. */
export function browserMissing (): string | false {
  try {
    findBrowser()
    return false
  } catch (err) {
    if (err instanceof BrowserNotFoundError) return err.message
    throw err
  }
}
