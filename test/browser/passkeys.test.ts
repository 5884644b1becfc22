import t, { type Test } from 'tap'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { CDPSession, Page } from 'playwright-core'
import { launchChromium, screenshotOnFailure } from './harness.js'
import { Authenticator, PASSWORD, startApiServer, uniqueEmail, verifiedUser } from '../helper.js'

/** A platform authenticator as the issue asks: CTAP2, internal, resident keys, user verification. */
async function virtualAuthenticator (cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
  return authenticatorId
}

async function signedInAs (t: Test, page: Page, email: string): Promise<void> {
  await page.waitForSelector('#signed-in:not([hidden])')
  t.equal(await page.textContent('#me-email'), email)
}

/** The password step of a 2FA account: the challenge offers the passkey. */
async function passwordStep (page: Page, email: string): Promise<void> {
  await page.fill('#login-email', email)
  await page.fill('#login-password', PASSWORD)
  await page.click('#login-form button[type="submit"]')
  await page.waitForSelector('#mfa-passkey:not([hidden])')
}

async function signOut (page: Page): Promise<void> {
  await page.click('#logout')
  await page.waitForSelector('#signed-out:not([hidden])')
}

t.test('in Chromium with a virtual authenticator: add a passkey, sign in with only it, use it as the 2nd step, delete it', async t => {
  t.setTimeout(300_000)
  const api = await startApiServer(t)
  const email = await verifiedUser({ url: api.url, outbox: api.outbox }, uniqueEmail('passkey'))
  const browser = await launchChromium(t)
  const context = await browser.newContext()
  const page = await context.newPage()
  screenshotOnFailure(t, () => page, 'passkeys')
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const first = await virtualAuthenticator(cdp)

  t.match(api.origin, /^http:\/\/localhost:/, 'passkeys need a host name: the page is on localhost')
  await page.goto(`${api.origin}/`)
  await page.waitForSelector('body[data-ready="true"]')
  t.equal(await page.isVisible('#passkey-localhost'), false, 'no "use localhost" note on localhost')
  await page.fill('#login-email', email)
  await page.fill('#login-password', PASSWORD)
  await page.click('#login-form button[type="submit"]')
  await signedInAs(t, page, email)

  // Add a passkey: the browser's own ceremony, answered by the virtual authenticator.
  await page.fill('#passkey-name', 'Laptop')
  await page.click('#passkey-add-form button[type="submit"]')
  await page.waitForSelector('#passkeys li')
  t.match(await page.textContent('#passkeys li'), /Laptop/)
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: first })
  t.equal(credentials.length, 1, 'one credential in the authenticator')
  t.equal(credentials[0].isResidentCredential, true, 'discoverable')
  t.equal(credentials[0].rpId, 'localhost')

  // Sign out, sign in with only the passkey: no email, no password. The signed-out page asks
  // for a passkey in the email field's autofill (conditional UI), which Chromium's virtual
  // authenticator answers by itself; the button is the way in where it does not.
  t.equal(await page.getAttribute('#login-email', 'autocomplete'), 'username webauthn', 'the field offers passkeys in autofill')
  await page.click('#logout')
  const conditional = await page.waitForSelector('#signed-in:not([hidden])', { timeout: 10_000 }).then(() => true, () => false)
  if (!conditional) await page.click('#passkey-signin')
  t.comment(conditional ? 'signed in through the autofill (conditional UI)' : 'signed in with the button')
  await signedInAs(t, page, email)
  await page.waitForSelector('#sessions tbody tr.current')
  t.match(await page.textContent('#sessions tbody tr.current'), /passkey/, 'the session list shows the passkey sign-in')

  // Turn on 2FA, then sign in with the password and answer the challenge with the passkey.
  await page.fill('#twofa-password', PASSWORD)
  await page.click('#twofa-setup-form button[type="submit"]')
  await page.waitForSelector('#twofa-enrol:not([hidden])')
  const totp = new Authenticator((await page.textContent('#twofa-secret')) ?? '')
  await page.fill('#twofa-code', await totp.next())
  await page.click('#twofa-enable-form button[type="submit"]')
  await page.waitForSelector('#twofa-done:not([hidden])')
  // The authenticator is away while the page is signed out, or the autofill would sign in with
  // it; its credential comes back with the counter it has reached (a counter that went back
  // would be refused).
  let [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: first })).credentials
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first })
  await signOut(page)
  await passwordStep(page, email)
  const back = await virtualAuthenticator(cdp)
  await cdp.send('WebAuthn.addCredential', { authenticatorId: back, credential })
  await page.click('#mfa-passkey')
  await signedInAs(t, page, email)
  t.equal(await page.textContent('#me-mfa'), 'on')

  // A second authenticator whose passkey this server never registered is refused.
  credential = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: back })).credentials[0]
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: back })
  await signOut(page)
  const second = await virtualAuthenticator(cdp)
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' })
  await cdp.send('WebAuthn.addCredential', {
    authenticatorId: second,
    credential: {
      credentialId: randomBytes(32).toString('base64'),
      isResidentCredential: true,
      rpId: 'localhost',
      privateKey: stranger.toString('base64'),
      // It claims this very account: only the key is foreign.
      userHandle: credentials[0].userHandle,
      signCount: 0
    }
  })
  await page.click('#passkey-signin')
  await page.waitForSelector('#error:not([hidden])')
  t.match(await page.textContent('#error'), /INVALID_CREDENTIALS/)
  t.equal(await page.isVisible('#signed-in'), false, 'still signed out')

  // Back on the first authenticator (its credential restored): sign in, delete the passkey.
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: second })
  await passwordStep(page, email)
  const again = await virtualAuthenticator(cdp)
  await cdp.send('WebAuthn.addCredential', { authenticatorId: again, credential })
  await page.click('#mfa-passkey')
  await signedInAs(t, page, email)
  await page.click('#passkeys li button.delete')
  await page.waitForSelector('#passkeys-none:not([hidden])')
  t.equal(await page.locator('#passkeys li').count(), 0, 'the passkey is gone')
  await signOut(page)
  await page.click('#passkey-signin')
  await page.waitForSelector('#error:not([hidden])')
  t.match(await page.textContent('#error'), /INVALID_CREDENTIALS/, 'a deleted passkey signs in no more')
  t.equal(await page.isVisible('#signed-in'), false)
})

t.test('the demo page opened at 127.0.0.1 says passkeys need localhost and links there', async t => {
  t.setTimeout(120_000)
  const api = await startApiServer(t)
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  screenshotOnFailure(t, () => page, 'passkeys-ip')
  await page.goto(`http://127.0.0.1:${api.port}/`)
  await page.waitForSelector('body[data-ready="true"]')
  t.equal(await page.isVisible('#passkey-localhost'), true)
  t.equal(await page.getAttribute('#passkey-localhost-link', 'href'), `http://localhost:${api.port}/`)
  t.equal(await page.isVisible('#passkey-signin'), false, 'no passkey button where it cannot work')
})
