import t from 'tap'
import type { Page } from 'playwright-core'
import { PASSWORD, startApiServer, signedInUser, tokenFromOutbox, uniqueEmail, request } from '../helper.js'
import { launchChromium, screenshotOnFailure } from './harness.js'

async function ready (page: Page): Promise<void> {
  await page.locator('body[data-ready="true"]').waitFor()
}

async function signIn (page: Page, email: string): Promise<void> {
  await page.fill('#login-email', email)
  await page.fill('#login-password', PASSWORD)
  await page.click('#login-form button[type="submit"]')
  await page.locator('#signed-in').waitFor()
}

t.test('the demo page\'s Account section: profile, email change by the mailed link, deletion', async t => {
  t.setTimeout(300_000)
  const browser = await launchChromium(t)
  const api = await startApiServer(t)
  const target = { url: api.origin, outbox: api.outbox }
  const u = await signedInUser(target, uniqueEmail('account'))
  const context = await browser.newContext()
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  screenshotOnFailure(t, () => page, 'account')
  const pageErrors: string[] = []
  page.on('pageerror', e => pageErrors.push(e.message))
  page.on('dialog', dialog => { dialog.accept().catch(() => {}) })

  await page.goto(`${api.origin}/`)
  await ready(page)
  await signIn(page, u.email)
  t.ok(await page.isVisible('#account'), 'the Account section shows when signed in')

  await page.fill('#profile-username', 'page_user')
  await page.fill('#profile-first', 'Ada')
  await page.click('#profile-form button[type="submit"]')
  await page.locator('#notice').filter({ hasText: 'Profile saved' }).waitFor()
  const me = await request(api.origin, 'POST', '/api/auth/login', { body: { username: 'page_user', password: PASSWORD } })
  t.equal(me.status, 200, 'the new username signs in')
  t.equal(me.body.user.firstName, 'Ada')

  const newEmail = uniqueEmail('moved')
  await page.fill('#email-change-new', newEmail)
  await page.fill('#email-change-password', PASSWORD)
  await page.click('#email-change-form button[type="submit"]')
  await page.locator('#notice').filter({ hasText: 'confirmation link' }).waitFor()
  const token = await tokenFromOutbox(api.outbox, newEmail, 'confirm-email', 10_000)
  await page.goto(`${api.origin}/confirm-email?token=${token}`)
  await ready(page)
  await page.locator('#email-link-state').filter({ hasText: newEmail }).waitFor()
  t.equal(new URL(page.url()).search, '', 'the token left the address bar')
  await page.reload()
  await ready(page)
  t.equal(await page.textContent('#me-email'), newEmail, '/me shows the new address')

  await page.fill('#delete-password', PASSWORD)
  await page.click('#delete-form button[type="submit"]')
  await page.locator('#notice').filter({ hasText: 'deleted' }).waitFor()
  t.ok(await page.isVisible('#login-form'), 'signed out')
  const login = await request(api.origin, 'POST', '/api/auth/login', { body: { email: newEmail, password: PASSWORD } })
  t.equal(login.status, 401, 'the account is gone')
  t.same(pageErrors, [], 'no script errors')
})
