import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { transform } from 'esbuild'
import { freePort, PROJECT_ROOT } from '../../src/redis/local-server.js'
import { startSpaServer } from '../../scripts/spa-server.js'
import { Authenticator, PASSWORD, startApiServer, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { launchChromium } from '../browser/harness.js'

/*
 * The README's fetch wrapper, as printed, in Chromium, in the hardest of its setups: the
 * page on a site of its own (http://127.0.0.1:<port>) calling the API on another
 * (http://localhost:<port>) with a SameSite=None cookie, where every state-changing call
 * needs the X-CSRF-Token header. Only the API's address is filled in.
 */

interface Wrapper {
  signIn: (email: string, password: string, askCode: () => Promise<{ code: string, method?: string }>) => Promise<{ email: string }>
  currentUser: () => Promise<{ email: string } | null>
  signOut: () => Promise<void>
  onSignedOut: (fn: () => void) => void
  authCall: (method: string, path: string, body?: object) => Promise<any>
}
declare const window: { auth: Wrapper, signedOutCalls: number, nextCode: () => Promise<{ code: string, method?: string }> }

t.test('the README\'s SPA wrapper signs in (with and without 2FA), calls, notices a lost session and signs out, cross-site', async t => {
  t.setTimeout(300_000)
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const source = readme.match(/<!-- example: spa-client -->\s*\n```ts\n([\s\S]*?)\n```/)?.[1] ?? ''
  t.match(source, /credentials: 'include'/, 'the README has the wrapper')
  const apiPort = await freePort()
  const apiOrigin = `http://localhost:${apiPort}`
  const placed = source.replace("const API = '/api/auth'", `const API = '${apiOrigin}/api/auth'`)
  t.not(placed, source, 'the API address is where the wrapper says')
  const { code: js } = await transform(placed, { loader: 'ts', format: 'esm', target: 'es2020' })

  const browser = await launchChromium(t)
  const spa = await startSpaServer({ apiBase: apiOrigin, host: '127.0.0.1' })
  t.teardown(spa.close)
  const api = await startApiServer(t, { port: apiPort, publicHost: 'localhost', env: { APP_ORIGIN: spa.origin, CORS_ORIGINS: spa.origin, COOKIE_SAMESITE: 'None' } })

  const email = uniqueEmail('spa')
  const json = { 'content-type': 'application/json' }
  t.equal((await fetch(`${api.origin}/api/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: PASSWORD }) })).status, 202)
  const token = await tokenFromOutbox(api.outbox, email, 'verify-email')
  t.equal((await fetch(`${api.origin}/api/auth/verify-email`, { method: 'POST', headers: json, body: JSON.stringify({ token }) })).status, 200)

  const context = await browser.newContext()
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  const codes: Array<{ code: string, method?: string }> = []
  await page.exposeFunction('nextCode', () => codes.shift() ?? { code: '000000' })
  await page.goto(`${spa.origin}/`)
  await page.addScriptTag({ type: 'module', content: `${js}\nwindow.auth = { signIn, currentUser, signOut, onSignedOut, authCall }\nwindow.signedOutCalls = 0\nonSignedOut(() => { window.signedOutCalls++ })` })
  await page.waitForFunction(() => window.auth !== undefined)

  t.equal(await page.evaluate(async () => await window.auth.currentUser()), null, 'nobody is signed in at first')
  const signedIn = await page.evaluate(async (e) => (await window.auth.signIn(e, 'correct horse battery staple', window.nextCode)).email, email)
  t.equal(signedIn, email, 'signIn answers the user')
  t.equal(await page.evaluate(async () => (await window.auth.currentUser())?.email), email, 'currentUser sees the session (the cookie went cross-site)')
  const sessions = await page.evaluate(async () => (await window.auth.authCall('GET', '/sessions')).sessions.length)
  t.equal(sessions, 1, 'authCall reaches any route')

  // Two-factor: enrolled from the page, with the CSRF header the SameSite=None cookie requires.
  const setup = await page.evaluate(async () => await window.auth.authCall('POST', '/2fa/setup', { password: 'correct horse battery staple' }))
  const app = new Authenticator(setup.secret)
  const enabled = await page.evaluate(async (code) => await window.auth.authCall('POST', '/2fa/enable', { code }), await app.next())
  t.equal(enabled.backupCodes.length, 10, 'state-changing calls carry X-CSRF-Token')

  await page.evaluate(async () => { await window.auth.signOut() })
  t.equal(await page.evaluate(async () => await window.auth.currentUser()), null, 'signOut ends the session')

  // Sign in again: a wrong code first, then the right one, through the same askCode.
  codes.push({ code: '000000' }, { code: await app.next() })
  const again = await page.evaluate(async (e) => (await window.auth.signIn(e, 'correct horse battery staple', window.nextCode)).email, email)
  t.equal(again, email, 'the 2FA step: a wrong code is asked again, the right one signs in')
  t.equal(codes.length, 0, 'both codes were asked for')

  // Signed out elsewhere: the next call finds the session gone and says so.
  const before = await page.evaluate(() => window.signedOutCalls)
  const other = await fetch(`${api.origin}/api/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: PASSWORD, totpCode: await app.next() }) })
  t.equal(other.status, 200, 'a second session elsewhere')
  // Login also sets the device cookie: take the session's.
  const otherCookie = other.headers.getSetCookie().map(c => c.split(';')[0]).find(c => c.startsWith('sessionId='))!
  const { csrfToken } = await other.json() as { csrfToken: string }
  t.equal((await fetch(`${api.origin}/api/auth/logout-all`, { method: 'POST', headers: { cookie: otherCookie, 'x-csrf-token': csrfToken } })).status, 204, 'which signs out everywhere')
  const lost = await page.evaluate(async () => await window.auth.authCall('GET', '/sessions').then(() => 'answered', (err: { problem: { code: string } }) => err.problem.code))
  t.equal(lost, 'UNAUTHENTICATED', 'the call fails with the problem code')
  t.equal(await page.evaluate(() => window.signedOutCalls), before + 1, 'and onSignedOut is called')
})
