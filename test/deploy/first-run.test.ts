import t from 'tap'
import { outboxMessages, PASSWORD, startApiServer, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { launchChromium } from '../browser/harness.js'

/*
 * The first five minutes, as the issue tried them: `npm start` with nothing configured
 * (here on a free port, not 3000), open the URL it prints, register, follow the emailed
 * link, sign in, sign out. Nothing may answer CSRF_REJECTED on the way.
 */

t.test('the page at the URL npm start prints signs up, in and out with no configuration', async t => {
  t.setTimeout(240_000)
  // APP_ORIGIN empty is APP_ORIGIN unset: nothing configured.
  const api = await startApiServer(t, { built: true, env: { NODE_ENV: 'development', APP_ORIGIN: '' } })
  const ready = await api.waitForLog(e => typeof e.msg === 'string' && e.msg.startsWith('Gatehouse is ready: open '))
  const printed = String(ready.url)
  t.equal(ready.msg, `Gatehouse is ready: open ${printed}`, 'npm start prints the URL to open')
  t.equal(printed, `http://localhost:${api.port}`, 'on localhost')
  const url = printed

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
