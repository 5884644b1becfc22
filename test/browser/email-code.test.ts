import t from 'tap'
import type { Page } from 'playwright-core'
import { launchChromium, screenshotOnFailure } from './harness.js'
import { emailCodeFromOutbox, startApiServer, verifiedUser } from '../helper.js'

t.test('a person signs in on the demo page with only an emailed code, then with only the emailed link', async t => {
  t.setTimeout(300_000)
  const api = await startApiServer(t)
  const email = await verifiedUser({ url: api.url, outbox: api.outbox })
  const browser = await launchChromium(t)
  const context = await browser.newContext()
  t.teardown(async () => { await context.close() })
  const page: Page = await context.newPage()
  screenshotOnFailure(t, () => page, 'email-code')

  await page.goto(`${api.origin}/`)
  await page.waitForSelector('body[data-ready="true"]')
  await page.fill('#email-code-email', email)
  await page.click('#email-code-request-form button[type="submit"]')
  await page.waitForSelector('#email-code-form:not([hidden])')
  t.match(await page.textContent('#notice'), /sign-in code is on its way/)
  const first = await emailCodeFromOutbox(api.outbox, email, 1, 10_000)
  await page.fill('#email-code-code', first.code)
  await page.click('#email-code-form button[type="submit"]')
  await page.waitForSelector('#signed-in:not([hidden])')
  t.equal(await page.textContent('#me-email'), email)
  await page.locator('#sessions tbody tr.current').waitFor()
  t.equal(await page.locator('#sessions tbody tr').count(), 1, 'the session is listed like a password sign-in')
  const session = (await context.cookies(api.origin)).find(c => c.name === 'sessionId')
  t.equal(session?.httpOnly, true, 'the usual session cookie')

  await page.click('#logout')
  await page.waitForSelector('#signed-out:not([hidden])')
  await page.fill('#email-code-email', email)
  await page.click('#email-code-request-form button[type="submit"]')
  await page.waitForSelector('#email-code-form:not([hidden])')
  const second = await emailCodeFromOutbox(api.outbox, email, 2, 10_000)
  const link = second.text.match(/https?:\/\/\S+\/sign-in\?token=[A-Za-z0-9_-]+/)?.[0]
  t.equal(link, `${api.origin}/sign-in?token=${second.token}`, 'the link points at APP_ORIGIN/sign-in')
  await page.goto(link as string)
  await page.waitForSelector('body[data-ready="true"]')
  await page.waitForSelector('#signed-in:not([hidden])')
  t.equal(await page.textContent('#me-email'), email)
  t.equal(new URL(page.url()).search, '', 'the token left the address bar')

  // The link works once: opened again, the page says so and stays signed out.
  await page.click('#logout')
  await page.waitForSelector('#signed-out:not([hidden])')
  await page.goto(link as string)
  await page.waitForSelector('body[data-ready="true"]')
  await page.waitForSelector('#error:not([hidden])')
  t.match(await page.textContent('#error'), /INVALID_TOKEN/)
  t.equal(await page.isVisible('#signed-in'), false)
})
