import t from 'tap'
import { outboxMessages, PASSWORD, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { launchChromium } from '../browser/harness.js'
import { startBuiltServer } from './built-server.js'

/*
 * The first five minutes, as the issue tried them: `npm start` with nothing configured
 * (here on a free port, not 3000), open the URL it prints, register, follow the emailed
 * link, sign in, sign out. Nothing may answer CSRF_REJECTED on the way.
 */

t.test('the page at the URL npm start prints signs up, in and out with no configuration', async t => {
  t.setTimeout(240_000)
  const api = await startBuiltServer(t, { LOG_LEVEL: 'info', NODE_ENV: 'development' })
  const printed = api.output().match(/Gatehouse is ready: open (http:\/\/\S+?)"/)?.[1]
  t.equal(printed, `http://localhost:${api.port}`, 'npm start prints the localhost URL')
  const url = printed ?? api.base

  const browser = await launchChromium(t)
  const context = await browser.newContext()
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  const refused: string[] = []
  page.on('response', r => { if (r.status() === 403) refused.push(`${r.request().method()} ${r.url()}`) })

  await page.goto(url)
  await page.locator('body[data-ready="true"]').waitFor()
  const email = uniqueEmail('first-run')
  await page.fill('#register-email', email)
  await page.fill('#register-password', PASSWORD)
  await page.click('#register-form button[type="submit"]')
  await page.locator('#notice').filter({ hasText: 'verification email' }).waitFor()

  const token = await tokenFromOutbox(api.outbox, email, 'verify-email')
  const [mail] = await outboxMessages(api.outbox, email)
  // The text part is quoted-printable: soft line breaks and =3D undone.
  const text = mail.text.replace(/=\r?\n/g, '').replaceAll('=3D', '=')
  t.ok(text.includes(`${url}/verify-email?token=${token}`), 'the emailed link opens the same page')
  await page.goto(`${url}/verify-email?token=${token}`)
  await page.locator('#verify-state').filter({ hasText: 'verified' }).waitFor()

  await page.fill('#login-email', email)
  await page.fill('#login-password', PASSWORD)
  await page.click('#login-form button[type="submit"]')
  await page.locator('#signed-in').waitFor()
  t.pass('signed in')
  await page.click('#logout')
  await page.locator('#login-form').waitFor()
  t.equal(await page.isVisible('#error'), false, 'signing out shows no error')
  const me = await page.evaluate(async () => (await fetch('/api/auth/me', { credentials: 'include' })).status)
  t.equal(me, 401, 'and the session is gone')
  t.same(refused, [], 'no request was refused as cross-site')
})
