import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { Test } from 'tap'
import { Authenticator, documentedRoutes, outboxMessages, PASSWORD, uniqueEmail, type ApiServer } from '../helper.js'
import { screenshotOnFailure, SCREENSHOT_DIR } from './harness.js'

export interface Setup {
  name: string
  browser: Browser
  api: ApiServer
  /** where the page is served from: the API itself, or a second origin */
  pageOrigin: string
  sameSite: 'Strict' | 'None'
}

/**
 * The link of `kind` in the last mail to `to`, as the mail has it (quoted-printable
 * undone). Mail may be written just after the HTTP answer, so it is awaited a while.
 */
async function linkFromOutbox (outbox: string, to: string, kind: 'verify-email' | 'reset-password', waitMs = 10_000): Promise<string> {
  const until = Date.now() + waitMs
  for (;;) {
    for (const m of (await outboxMessages(outbox, to)).reverse()) {
      const unfolded = m.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=')
      const match = unfolded.match(new RegExp(`https?://[^\\s"<>]+/${kind}\\?token=[A-Za-z0-9_-]+`))
      if (match !== null) return match[0]
    }
    if (Date.now() > until) throw new Error(`no ${kind} link mailed to ${to}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function ready (page: Page): Promise<void> {
  await page.locator('body[data-ready="true"]').waitFor()
}

async function signIn (page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.fill('#login-email', email)
  await page.fill('#login-password', password)
  await page.click('#login-form button[type="submit"]')
}

/** What the page's own fetch gets from /me: the API's status as the SPA sees it. */
async function meStatus (page: Page, apiOrigin: string): Promise<number> {
  return await page.evaluate(async (base) => (await fetch(`${base}/api/auth/me`, { credentials: 'include' })).status, apiOrigin)
}

export async function demoFlow (t: Test, s: Setup): Promise<void> {
  // A route the page needs and the server lacks is a failure, not a part skipped.
  const routes = await documentedRoutes(s.api)
  for (const route of ['GET /api/auth/sessions', 'DELETE /api/auth/sessions/{id}', 'POST /api/auth/2fa/setup', 'POST /api/auth/2fa/enable', 'POST /api/auth/mfa/verify', 'POST /api/auth/password/forgot', 'POST /api/auth/password/reset', 'GET /api/auth/activity']) {
    t.ok(routes.has(route), `the server has ${route}`)
  }
  const context = await s.browser.newContext()
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  screenshotOnFailure(t, () => page, s.name)
  const apiCalls: string[] = []
  page.on('request', r => { if (r.url().includes('/api/auth/')) apiCalls.push(r.url()) })
  const pageErrors: string[] = []
  page.on('pageerror', e => pageErrors.push(e.message))
  const email = uniqueEmail(s.name)
  // The authenticator app once 2FA is on: it knows the last time step the server accepted.
  let authenticator: Authenticator | undefined

  await t.test('register from the page', async t => {
    await page.goto(`${s.pageOrigin}/`)
    await ready(page)
    t.ok(await page.isVisible('#login-form'), 'signed out, the sign-in form shows')
    await page.fill('#register-email', email)
    await page.fill('#register-password', PASSWORD)
    await page.click('#register-form button[type="submit"]')
    await page.locator('#notice').filter({ hasText: 'verification email' }).waitFor()
    t.ok(apiCalls.every(u => u.startsWith(`${s.api.origin}/api/auth/`)), `every API call went to ${s.api.origin}`)
  })

  await t.test('open the verify link from the email', async t => {
    const link = await linkFromOutbox(s.api.outbox, email, 'verify-email')
    t.ok(link.startsWith(`${s.pageOrigin}/verify-email?token=`), 'the emailed link opens the page')
    await page.goto(link)
    await ready(page)
    await page.locator('#verify-state').filter({ hasText: 'verified' }).waitFor()
    t.match(await page.textContent('#verify-state'), email)
    t.equal(new URL(page.url()).search, '', 'the token left the address bar')
  })

  await t.test('sign in and see /me', async t => {
    await signIn(page, email)
    await page.locator('#signed-in').waitFor()
    t.equal(await page.textContent('#me-email'), email)
    t.equal(await page.textContent('#me-mfa'), 'off')
    const cookie = (await context.cookies(s.api.origin)).find(c => c.name === 'sessionId')
    t.ok(cookie, 'the browser holds the session cookie for the API')
    t.equal(cookie?.httpOnly, true, 'HttpOnly')
    t.equal(cookie?.sameSite, s.sameSite, `SameSite=${s.sameSite}`)
    if (s.sameSite === 'None') {
      t.equal(cookie?.secure, true, 'Secure, as SameSite=None requires')
      t.equal(cookie?.partitionKey, new URL(s.pageOrigin).origin.replace(/:\d+$/, ''), 'Partitioned under the SPA\'s site')
    }
    t.equal(await page.evaluate('document.cookie.includes("sessionId")'), false, 'the page script cannot read it')
    await mkdir(SCREENSHOT_DIR, { recursive: true })
    const file = join(SCREENSHOT_DIR, s.name === 'same-origin' ? 'after-login.png' : `after-login-${s.name}.png`)
    await page.screenshot({ path: file, fullPage: true })
    t.comment(`screenshot after login: ${file}`)
    await page.reload()
    await ready(page)
    t.ok(await page.isVisible('#signed-in'), 'a reload finds the session through /me')
  })

  await t.test('the session list signs out another session', async t => {
    // A second "device": its own cookie jar.
    const other: BrowserContext = await s.browser.newContext()
    t.teardown(async () => { await other.close() })
    const otherPage = await other.newPage()
    await otherPage.goto(`${s.pageOrigin}/`)
    await ready(otherPage)
    await signIn(otherPage, email)
    await otherPage.locator('#signed-in').waitFor()

    await page.click('#refresh-me')
    await page.locator('#sessions tbody tr').nth(1).waitFor()
    t.equal(await page.locator('#sessions tbody tr').count(), 2, 'both sessions are listed')
    t.equal(await page.locator('#sessions tbody tr.current').count(), 1, 'one is marked as this one')
    t.equal(await page.isVisible('#sessions-more'), false, 'one page holds them: no "More sessions"')
    await page.click('#sessions tbody tr:not(.current) button.revoke')
    await page.locator('#notice').filter({ hasText: 'That session has ended' }).waitFor()
    await page.locator('#sessions tbody tr').nth(1).waitFor({ state: 'detached' })
    t.equal(await meStatus(otherPage, s.api.origin), 401, 'the other device is signed out')
    t.equal(await meStatus(page, s.api.origin), 200, 'this one is not')
  })

  await t.test('recent activity shows the sign-ins, the new device and the ended session', async t => {
    await page.click('#refresh-me')
    await page.locator('#activity tbody tr[data-type="session.ended"]').waitFor()
    t.ok(await page.locator('#activity tbody tr[data-type="session.signed_in"]').count() >= 2, 'both sign-ins are listed')
    t.match(await page.locator('#activity tbody tr[data-type="session.signed_in"]').first().textContent(), /new browser or device/, 'the other device\'s sign-in is flagged')
    t.ok(await page.locator('#activity tbody tr[data-type="user.signed_up"]').count() === 1, 'the sign-up too')
  })

  await t.test('enrol in 2FA from the QR code, then sign in with a computed code', async t => {
    await page.fill('#twofa-password', PASSWORD)
    await page.click('#twofa-setup-form button[type="submit"]')
    await page.locator('#twofa-enrol').waitFor()
    t.match(await page.getAttribute('#twofa-qr', 'src'), /^data:image\/svg\+xml/, 'the QR code shows')
    t.ok(await page.evaluate('document.getElementById("twofa-qr").naturalWidth > 0'), 'and renders')
    const shown = (await page.textContent('#twofa-secret')) ?? ''
    t.match(shown, /^[A-Z2-7]{16,}$/, 'the secret is base32')
    authenticator = new Authenticator(shown)
    await page.fill('#twofa-code', await authenticator.next())
    await page.click('#twofa-enable-form button[type="submit"]')
    await page.locator('#twofa-done').waitFor()
    // The page shows the codes first, then reloads /me and says so: wait for that before reading it.
    await page.locator('#notice').filter({ hasText: 'Two-factor authentication is on.' }).waitFor()
    t.equal(await page.locator('#backup-codes li').count(), 10, 'ten backup codes are shown')
    t.equal(await page.textContent('#me-mfa'), 'on')

    // New backup codes take both factors: the password and, here, one of the codes just shown.
    const first = (await page.locator('#backup-codes li').first().textContent()) ?? ''
    await page.fill('#backup-password', PASSWORD)
    await page.fill('#backup-code', first)
    await page.click('#twofa-backup-form button[type="submit"]')
    await page.locator('#notice').filter({ hasText: 'New backup codes' }).waitFor()
    t.equal(await page.locator('#backup-codes li').count(), 10, 'ten new backup codes are shown')
    t.not(await page.locator('#backup-codes li').first().textContent(), first, 'they replace the old ones')

    await page.click('#logout')
    await page.locator('#login-form').waitFor()
    await signIn(page, email)
    await page.locator('#mfa').waitFor()
    t.equal(await page.isVisible('#signed-in'), false, 'the password alone does not sign in')
    await page.fill('#mfa-code', await authenticator.next())
    await page.click('#mfa-form button[type="submit"]')
    await page.locator('#signed-in').waitFor()
    t.equal(await page.textContent('#me-email'), email)
  })

  await t.test('the reset link from the email sets a new password', async t => {
    await page.click('#logout')
    await page.locator('#forgot-form').waitFor()
    await page.fill('#forgot-email', email)
    await page.click('#forgot-form button[type="submit"]')
    await page.locator('#notice').filter({ hasText: /\S/ }).waitFor()
    const link = await linkFromOutbox(s.api.outbox, email, 'reset-password')
    t.ok(link.startsWith(`${s.pageOrigin}/reset-password?token=`), 'the emailed link opens the page')
    await page.goto(link)
    await ready(page)
    t.equal(new URL(page.url()).search, '', 'the token left the address bar')
    await page.locator('#reset-form').waitFor()
    const newPassword = `${PASSWORD} renewed`
    await page.fill('#reset-password', newPassword)
    await page.click('#reset-form button[type="submit"]')
    await page.locator('#reset').waitFor({ state: 'hidden' })
    t.equal(await page.isVisible('#error'), false, 'no error shown')
    await signIn(page, email, PASSWORD)
    await page.locator('#error').filter({ hasText: 'INVALID_CREDENTIALS' }).waitFor()
    t.pass('the old password is refused, readably')
    await signIn(page, email, newPassword)
    if (authenticator !== undefined) {
      await page.locator('#mfa').waitFor()
      await page.fill('#mfa-code', await authenticator.next())
      await page.click('#mfa-form button[type="submit"]')
    }
    await page.locator('#signed-in').waitFor()
    t.equal(await page.textContent('#me-email'), email, 'the new password signs in')
  })

  await t.test('sign out', async t => {
    await page.click('#logout')
    await page.locator('#notice').filter({ hasText: 'Signed out' }).waitFor()
    t.ok(await page.isVisible('#login-form'))
    t.equal(await meStatus(page, s.api.origin), 401, '/me answers 401 afterwards')
    t.notOk((await context.cookies(s.api.origin)).find(c => c.name === 'sessionId'), 'the cookie is gone')
    t.equal(pageErrors.length, 0, `no script errors (${pageErrors.join('; ')})`)
  })
}
