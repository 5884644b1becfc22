import t from 'tap'
import type { Page } from 'playwright-core'
import { freePort } from '../../src/redis/local-server.js'
import { launchChromium, screenshotOnFailure } from './harness.js'
import { Authenticator, PASSWORD, startApiServer, tokenFromOutbox } from '../helper.js'
import { startProvider } from '../oauth/provider.js'
import { startSpaServer } from '../../scripts/spa-server.js'

/** At the provider's own pages: sign in as `login`, then consent. */
async function atProvider (page: Page, issuer: string, login: string): Promise<void> {
  await page.waitForURL(url => url.href.startsWith(issuer))
  await page.fill('input[name="login"]', login)
  await page.fill('input[name="password"]', 'any password')
  await page.click('button[type="submit"]')
  // The consent page ("Authorize"), then back to the application.
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' })
  await page.click('button[type="submit"]')
}

t.test('a person clicks the provider button, signs in at the provider, consents and lands signed in', async t => {
  t.setTimeout(300_000)
  const port = await freePort()
  const origin = `http://localhost:${port}`
  // The provider on 127.0.0.1, the app on localhost: the return is a real cross-site navigation.
  const tp = await startProvider(t, () => [`${origin}/api/auth/oauth/test/callback`])
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true, given_name: 'Alice' })
  tp.accounts.set('alice-work', { email: 'alice@work.example', email_verified: true })
  const api = await startApiServer(t, { port, env: { OAUTH_PROVIDERS: JSON.stringify([tp.entry()]) } })
  const browser = await launchChromium(t)
  let page: Page | undefined
  screenshotOnFailure(t, () => page, 'oauth')

  const context = await browser.newContext()
  page = await context.newPage()
  await page.goto(`${api.origin}/`)
  await page.waitForSelector('body[data-ready="true"]')
  await page.click('button[data-provider="test"]')
  await atProvider(page, tp.issuer, 'alice')
  await page.waitForURL(`${api.origin}/`)
  await page.waitForSelector('#signed-in:not([hidden])')
  t.equal(await page.textContent('#me-email'), 'alice@example.com')
  const cookies = await context.cookies(api.origin)
  const session = cookies.find(c => c.name === 'sessionId')
  t.ok(session, 'the usual session cookie')
  t.equal(session?.httpOnly, true)
  t.equal(session?.sameSite, 'Strict')

  // Its provider identity is listed; it is the only way in, so unlinking it is refused.
  await page.waitForSelector('#identities li')
  t.match(await page.textContent('#identities li'), /Test OP \(alice@example\.com\)/)
  await page.click('#identities li button.unlink')
  await page.waitForSelector('#error:not([hidden])')
  t.match(await page.textContent('#error'), /LAST_SIGN_IN_METHOD/)

  // Link a second identity from the account, through the provider again (signed out there first).
  await context.clearCookies({ domain: '127.0.0.1' })
  await page.click('button[data-link-provider="test"]')
  await atProvider(page, tp.issuer, 'alice-work')
  await page.waitForURL(`${api.origin}/`)
  await page.locator('#identities li').nth(1).waitFor()
  t.match(await page.textContent('#notice'), /linked/)
  t.match(await page.textContent('#identities'), /alice@work\.example/)

  // Now either may go.
  await page.click('#identities li:nth-child(2) button.unlink')
  await page.locator('#identities li').nth(1).waitFor({ state: 'detached' })
  t.match(await page.textContent('#identities'), /alice@example\.com/)
  await context.close()

  // Another browser, the same person at the provider: the same account.
  const second = await browser.newContext()
  page = await second.newPage()
  await page.goto(`${api.origin}/`)
  await page.waitForSelector('body[data-ready="true"]')
  await page.click('button[data-provider="test"]')
  await atProvider(page, tp.issuer, 'alice')
  await page.waitForSelector('#signed-in:not([hidden])')
  t.equal(await page.textContent('#me-email'), 'alice@example.com')
  await second.close()
})

t.test('with 2FA on, the return from the provider asks for the code, then signs in', async t => {
  t.setTimeout(300_000)
  const port = await freePort()
  const origin = `http://localhost:${port}`
  const tp = await startProvider(t, () => [`${origin}/api/auth/oauth/test/callback`])
  tp.accounts.set('bob', { email: 'bob@provider.example', email_verified: true })
  const api = await startApiServer(t, { port, env: { OAUTH_PROVIDERS: JSON.stringify([tp.entry()]) } })
  const browser = await launchChromium(t)
  const context = await browser.newContext()
  const page = await context.newPage()
  screenshotOnFailure(t, () => page, 'oauth-2fa')

  // A password account, verified, with 2FA on and the provider identity linked, all from the page.
  const email = 'bob@example.com'
  const register = await fetch(`${api.origin}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) })
  t.equal(register.status, 202)
  await page.goto(`${api.origin}/verify-email?token=${await tokenFromOutbox(api.outbox, email, 'verify-email')}`)
  await page.locator('#verify-state').filter({ hasText: 'verified' }).waitFor()
  await page.fill('#login-email', email)
  await page.fill('#login-password', PASSWORD)
  await page.click('#login-form button[type="submit"]')
  await page.locator('#signed-in').waitFor()
  await page.fill('#twofa-password', PASSWORD)
  await page.click('#twofa-setup-form button[type="submit"]')
  await page.locator('#twofa-enrol').waitFor()
  const authenticator = new Authenticator((await page.textContent('#twofa-secret')) ?? '')
  await page.fill('#twofa-code', await authenticator.next())
  await page.click('#twofa-enable-form button[type="submit"]')
  await page.locator('#twofa-done').waitFor()
  await page.click('button[data-link-provider="test"]')
  await atProvider(page, tp.issuer, 'bob')
  await page.waitForURL(`${api.origin}/`)
  await page.locator('#identities li').waitFor()
  await page.click('#logout')
  await page.locator('#login-form').waitFor()

  // Signed out here and at the provider: sign in with the provider.
  await context.clearCookies({ domain: '127.0.0.1' })
  await page.click('button[data-provider="test"]')
  await atProvider(page, tp.issuer, 'bob')
  await page.locator('#mfa').waitFor()
  t.equal(new URL(page.url()).hash, '', 'the MFA token left the address bar')
  t.notOk((await context.cookies(api.origin)).some(c => c.name === 'sessionId'), 'no session before the code')
  await page.fill('#mfa-code', await authenticator.next())
  await page.click('#mfa-form button[type="submit"]')
  await page.locator('#signed-in').waitFor()
  t.equal(await page.textContent('#me-email'), email)
  t.equal(await page.textContent('#me-mfa'), 'on')
  await context.close()
})

t.test('an SPA on another site signs in through the provider: the sign-in token, then its own session cookie', async t => {
  t.setTimeout(300_000)
  const apiPort = await freePort()
  const apiOrigin = `http://localhost:${apiPort}`
  const spa = await startSpaServer({ apiBase: apiOrigin, host: '127.0.0.1' })
  t.teardown(spa.close)
  const tp = await startProvider(t, () => [`${apiOrigin}/api/auth/oauth/test/callback`])
  tp.accounts.set('carol', { email: 'carol@example.com', email_verified: true })
  const api = await startApiServer(t, {
    port: apiPort,
    publicHost: 'localhost',
    env: { APP_ORIGIN: spa.origin, CORS_ORIGINS: spa.origin, COOKIE_SAMESITE: 'None', OAUTH_REDIRECT_ORIGIN: apiOrigin, OAUTH_PROVIDERS: JSON.stringify([tp.entry()]) }
  })
  const browser = await launchChromium(t)
  const context = await browser.newContext()
  const page = await context.newPage()
  screenshotOnFailure(t, () => page, 'oauth-spa')
  await page.goto(`${spa.origin}/`)
  await page.waitForSelector('body[data-ready="true"]')
  await page.click('button[data-provider="test"]')
  await atProvider(page, tp.issuer, 'carol')
  await page.waitForURL(url => url.href.startsWith(`${spa.origin}/`))
  await page.locator('#signed-in').waitFor()
  t.equal(await page.textContent('#me-email'), 'carol@example.com')
  t.equal(new URL(page.url()).hash, '', 'the sign-in token left the address bar')
  const session = (await context.cookies(api.origin)).find(c => c.name === 'sessionId')
  t.equal(session?.sameSite, 'None')
  t.equal(session?.partitionKey, spa.origin.replace(/:\d+$/, ''), 'partitioned under the SPA\'s site, where the page can use it')
  await page.reload()
  await page.waitForSelector('body[data-ready="true"]')
  t.ok(await page.isVisible('#signed-in'), 'a reload finds the session through /me')
  await context.close()
})
