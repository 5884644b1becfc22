/// <reference lib="dom" />
/*
 * The demo page: plain TypeScript in the browser, bundled by esbuild (src/http/demo-page.ts).
 * It is a single-page app on @gatehouse/client (client/) in cookie mode, as an app on its
 * own origin would use it: the session in an HttpOnly cookie the page never sees, the CSRF
 * token from /login and /me sent back by the client on every state-changing call.
 * Text from the server is only ever set with textContent.
 */
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration, WebAuthnAbortService } from '@simplewebauthn/browser'
import { createClient, GatehouseError, type ActivityEvent, type LoginResult, type Me, type OAuthProvider, type SessionInfo, type SessionList, type SignedIn } from '../client/src/index.js'

const apiBase = (document.querySelector('meta[name="api-base"]')?.getAttribute('content') ?? '').replace(/\/+$/, '')
let mfaToken: string | undefined
let mfaWithPasskey = false

const client = createClient({
  baseUrl: apiBase,
  // A call that had a session got 401 (it was ended elsewhere, or expired): show sign-in.
  onSessionEnd: () => {
    renderSignedOut()
    notice('Your session has ended; sign in again.')
  }
})

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} is missing from the page`)
  return el as T
}
const show = (id: string, visible = true): void => { $(id).hidden = !visible }
const value = (id: string): string => $<HTMLInputElement>(id).value

function notice (message: string): void {
  $('error').hidden = true
  const el = $('notice')
  el.textContent = message
  el.hidden = false
}

/** Shows a problem document readably: title, detail, the field errors, and the code. */
function showError (err: unknown): void {
  // A load begun while signed in (the session list, the activity...) that ends after the
  // person signed out has nothing to tell them.
  if (err instanceof GatehouseError && err.code === 'UNAUTHENTICATED' && $('signed-in').hidden) return
  $('notice').hidden = true
  const el = $('error')
  el.replaceChildren()
  if (err instanceof TypeError) {
    // fetch itself failed: no answer, or one CORS kept from the page.
    const head = document.createElement('strong')
    head.textContent = 'The API cannot be reached'
    el.replaceChildren(head, document.createTextNode(`: no answer from ${apiBase === '' ? location.origin : apiBase} (network error or refused by CORS).`))
    el.hidden = false
    return
  }
  if (!(err instanceof GatehouseError)) {
    el.textContent = err instanceof Error ? err.message : String(err)
    el.hidden = false
    return
  }
  const p = err.problem
  const head = document.createElement('strong')
  head.textContent = p.title ?? 'Request failed'
  el.append(head)
  if (p.detail !== '' && p.detail !== p.title) el.append(document.createTextNode(`: ${p.detail}`))
  const fields = Object.entries(err.fieldErrors)
  if (fields.length > 0 || err.formErrors.length > 0) {
    const list = document.createElement('ul')
    for (const [field, messages] of fields) {
      const li = document.createElement('li')
      li.textContent = `${field}: ${messages.join(', ')}`
      list.append(li)
    }
    for (const m of err.formErrors) {
      const li = document.createElement('li')
      li.textContent = m
      list.append(li)
    }
    el.append(list)
  }
  const code = document.createElement('div')
  code.className = 'code'
  code.textContent = `${err.status} ${err.code}`
  el.append(code)
  el.hidden = false
}

/** Runs a handler for a form or button, showing any error, with the control disabled meanwhile. */
function on (id: string, handler: () => Promise<void>): void {
  const el = $(id)
  const run = async (event: Event): Promise<void> => {
    event.preventDefault()
    const control = el instanceof HTMLFormElement ? el.querySelector('button') : el
    if (control !== null) (control as HTMLButtonElement).disabled = true
    try {
      await handler()
    } catch (err) {
      showError(err)
    } finally {
      if (control !== null) (control as HTMLButtonElement).disabled = false
    }
  }
  el.addEventListener(el instanceof HTMLFormElement ? 'submit' : 'click', event => { run(event).catch(showError) })
}

function renderSignedOut (): void {
  show('signed-in', false)
  // The last account's lists go with it: a later sign-in shows only what it loads itself.
  for (const id of ['sessions', 'activity']) ($(id).querySelector('tbody') as HTMLTableSectionElement).replaceChildren()
  for (const id of ['passkeys', 'identities']) $(id).replaceChildren()
  show('signed-out')
  show('mfa', mfaToken !== undefined)
  show('mfa-passkey', mfaToken !== undefined && mfaWithPasskey && passkeysUsable())
  offerPasskeysInAutofill().catch(() => {})
}

// --- passkeys --------------------------------------------------------------------------

/** Browsers refuse an IP address as the RP ID: at 127.0.0.1 passkeys cannot work. */
const onIpAddress = (): boolean => /^[0-9.]+$|^\[/.test(location.hostname)
const passkeysUsable = (): boolean => browserSupportsWebAuthn() && !onIpAddress()

/**
 * Conditional UI: the browser lists this site's passkeys in the email field's autofill, and
 * choosing one signs in. The request waits in the background until then (a button or
 * another ceremony cancels it).
 */
async function offerPasskeysInAutofill (): Promise<void> {
  if (!passkeysUsable() || !await browserSupportsWebAuthnAutofill()) return
  const { challengeId, options } = await client.passkeySignInOptions()
  const response = await startAuthentication({ optionsJSON: options, useBrowserAutofill: true })
  await afterLogin(await client.verifyPasskeySignIn({ challengeId, response }))
}

async function signInWithPasskey (): Promise<void> {
  WebAuthnAbortService.cancelCeremony()
  const { challengeId, options } = await client.passkeySignInOptions()
  const response = await startAuthentication({ optionsJSON: options })
  await afterLogin(await client.verifyPasskeySignIn({ challengeId, response }))
}

async function loadPasskeys (): Promise<void> {
  const list = await client.passkeys()
  $('passkeys').replaceChildren(...list.map(p => {
    const li = document.createElement('li')
    li.dataset.passkeyId = p.id
    const name = document.createElement('strong')
    name.className = 'passkey-name'
    name.textContent = p.name
    const about = [p.authenticator, `added ${new Date(p.createdAt).toLocaleString()}`, p.lastUsedAt === null ? 'never used' : `last used ${new Date(p.lastUsedAt).toLocaleString()}`]
    li.append(name, document.createTextNode(` (${about.filter(x => x !== null).join(', ')}) `))
    const rename = document.createElement('button')
    rename.type = 'button'
    rename.className = 'rename'
    rename.textContent = 'Rename'
    rename.addEventListener('click', () => {
      const next = prompt('A name for this passkey', p.name)
      if (next === null) return
      client.renamePasskey(p.id, { name: next }).then(loadPasskeys).catch(showError)
    })
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.className = 'delete'
    remove.textContent = 'Delete'
    remove.addEventListener('click', () => {
      client.deletePasskey(p.id).then(async () => {
        notice(`The passkey ${p.name} is deleted.`)
        await loadPasskeys()
      }).catch(showError)
    })
    li.append(rename, remove)
    return li
  }))
  show('passkeys-none', list.length === 0)
}

function renderSignedIn (me: Me | SignedIn<'cookie'>): void {
  mfaToken = undefined
  show('verify', false)
  show('signed-out', false)
  show('signed-in')
  $('me-email').textContent = me.user.email
  $('me-id').textContent = me.user.id
  $('me-mfa').textContent = me.user.mfaEnabled ? 'on' : 'off'
  $('me-expires').textContent = new Date(me.session.expiresAt).toLocaleString()
  show('twofa-setup-form', !me.user.mfaEnabled)
  $<HTMLInputElement>('profile-username').value = me.user.username ?? ''
  $<HTMLInputElement>('profile-first').value = me.user.firstName ?? ''
  $<HTMLInputElement>('profile-last').value = me.user.lastName ?? ''
  show('delete-code-label', me.user.mfaEnabled)
  show('twofa-backup-form', me.user.mfaEnabled)
}

/** /me decides what the page shows: a live session or the sign-in forms. */
async function loadMe (): Promise<boolean> {
  try {
    renderSignedIn(await client.me())
    await loadSessions()
    await loadIdentities()
    await loadActivity()
    await loadPasskeys()
    return true
  } catch (err) {
    if (err instanceof GatehouseError && err.code === 'UNAUTHENTICATED') {
      renderSignedOut()
      return false
    }
    throw err
  }
}

let providers: OAuthProvider[] = []

/** Where the API sends the browser back after a provider: this page, on its own origin. */
const returnTo = (): string => `${location.origin}/`

/** A button per configured provider; a plain navigation to the API's start route. */
async function loadProviders (): Promise<void> {
  try {
    providers = await client.oauthProviders()
  } catch {
    providers = []
  }
  const box = $('provider-buttons')
  box.replaceChildren(...providers.map(p => {
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset.provider = p.id
    button.textContent = `Sign in with ${p.name}`
    button.addEventListener('click', () => {
      location.assign(client.oauthStartUrl(p.id, returnTo()))
    })
    return button
  }))
  show('providers', providers.length > 0)
}

async function loadIdentities (): Promise<void> {
  show('identities-section', providers.length > 0)
  if (providers.length === 0) return
  const list = await client.identities()
  $('identities').replaceChildren(...list.map(i => {
    const li = document.createElement('li')
    li.dataset.identityId = i.id
    const name = providers.find(p => p.id === i.provider)?.name ?? i.provider
    li.textContent = `${name}${i.email === null ? '' : ` (${i.email})`}, linked ${new Date(i.linkedAt).toLocaleString()} `
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'unlink'
    button.textContent = 'Unlink'
    button.addEventListener('click', () => {
      client.unlinkIdentity(i.id).then(async () => {
        notice(`${name} is no longer linked.`)
        await loadIdentities()
      }).catch(showError)
    })
    li.append(button)
    return li
  }))
  show('identities-none', list.length === 0)
  $('link-buttons').replaceChildren(...providers.map(p => {
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset.linkProvider = p.id
    button.textContent = `Link ${p.name}`
    button.addEventListener('click', () => {
      client.linkIdentity(p.id, { returnTo: returnTo() })
        .then(({ url }) => { location.assign(url) })
        .catch(showError)
    })
    return button
  }))
}

/**
 * The return from a provider: `?error=CODE`, `?linked=<provider>`, `#mfaToken=...`, or (on a
 * page of another origin than the API) `#signInToken=...` to redeem for the session cookie.
 */
async function handleProviderReturn (): Promise<void> {
  const query = new URLSearchParams(location.search)
  const fragment = new URLSearchParams(location.hash.slice(1))
  const error = query.get('error')
  const linked = query.get('linked')
  const challenge = fragment.get('mfaToken')
  const handoff = fragment.get('signInToken')
  if (error === null && linked === null && challenge === null && handoff === null) return
  // The tokens leave the address bar (and so the history) at once.
  history.replaceState(null, '', location.pathname)
  if (error !== null) showProviderError(error)
  if (linked !== null) notice('The identity is linked to your account.')
  if (challenge !== null) {
    mfaToken = challenge
    notice('Enter the code from your authenticator app.')
  }
  if (handoff !== null) await afterLogin(await client.completeOAuth({ signInToken: handoff }))
}

/** The `?error=CODE` of a return from a provider: a code of the OAuth flow, not a problem document. */
function showProviderError (code: string): void {
  $('notice').hidden = true
  const el = $('error')
  const head = document.createElement('strong')
  head.textContent = 'Signing in with the provider did not work'
  const line = document.createElement('div')
  line.className = 'code'
  line.textContent = code
  el.replaceChildren(head, document.createTextNode(`: ${providerErrors[code] ?? 'Try again.'}`), line)
  el.hidden = false
}

const providerErrors: Record<string, string> = {
  OAUTH_LINK_REQUIRED: 'An account with this email already exists: sign in with your password, then link the provider from your account.',
  OAUTH_EMAIL_UNVERIFIED: 'The provider did not confirm an email address for this account.',
  OAUTH_SIGNUP_DISABLED: 'No account is linked to this identity, and new accounts cannot be created this way.',
  OAUTH_IDENTITY_TAKEN: 'This identity is already linked to another account.',
  OAUTH_PROVIDER_UNAVAILABLE: 'The provider cannot be reached right now.',
  OAUTH_ACCESS_DENIED: 'Signing in was cancelled at the provider.',
  OAUTH_STATE_INVALID: 'The sign-in took too long or was started elsewhere; start again.',
  ACCOUNT_DISABLED: 'This account has been disabled.'
}

/** Sessions shown a page at a time; "More sessions" asks for the next one. */
const SESSIONS_PER_PAGE = 20
let sessionsCursor: string | null = null

async function loadSessions (more = false): Promise<void> {
  const body = $('sessions').querySelector('tbody') as HTMLTableSectionElement
  if (!more) {
    body.replaceChildren()
    sessionsCursor = null
  }
  let page: SessionList
  try {
    page = await client.sessionPage({ cursor: sessionsCursor ?? undefined, limit: SESSIONS_PER_PAGE })
  } catch (err) {
    if (err instanceof GatehouseError && err.code === 'NOT_FOUND') {
      $('sessions-note').textContent = 'This server has no session list (GET /api/auth/sessions).'
      show('sessions-note')
      return
    }
    throw err
  }
  show('sessions-note', false)
  sessionsCursor = page.nextCursor
  show('sessions-more', sessionsCursor !== null)
  for (const s of page.sessions) {
    const row = document.createElement('tr')
    row.dataset.sessionId = s.id
    if (s.current) row.className = 'current'
    for (const text of [new Date(s.createdAt).toLocaleString(), new Date(s.lastSeenAt).toLocaleString(), s.ip, s.userAgent, methodNames[s.method]]) {
      const td = document.createElement('td')
      td.textContent = text
      row.append(td)
    }
    const cell = document.createElement('td')
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'revoke'
    button.textContent = s.current ? 'Sign out this one (this browser)' : 'Sign out this one'
    button.addEventListener('click', () => {
      revoke(s).catch(showError)
    })
    cell.append(button)
    row.append(cell)
    body.append(row)
  }
}

/** What each event says to the person it happened to; the type itself for any other. */
const ACTIVITY: Record<string, string> = {
  'user.signed_up': 'Account created',
  'user.email_verified': 'Email address confirmed',
  'user.email_changed': 'Email address changed',
  'session.signed_in': 'Signed in',
  'session.sign_in_failed': 'Wrong password',
  'session.backoff_started': 'Sign-ins slowed down after failures',
  'session.signed_out': 'Signed out',
  'session.ended': 'A session was signed out',
  'session.all_ended': 'Signed out everywhere',
  'password.changed': 'Password changed',
  'password.reset': 'Password reset by email',
  'mfa.enabled': 'Two-factor turned on',
  'mfa.disabled': 'Two-factor turned off',
  'mfa.backup_codes_regenerated': 'New backup codes',
  'passkey.added': 'Passkey added',
  'passkey.removed': 'Passkey removed',
  'identity.linked': 'Identity linked',
  'identity.unlinked': 'Identity unlinked',
  'token.family_revoked': 'A reused sign-in token was blocked'
}

function describe (e: ActivityEvent): string {
  const what = ACTIVITY[e.type] ?? e.type
  if (e.type === 'session.signed_in' && e.data.newDevice === true) return `${what} (new browser or device)`
  if (typeof e.data.provider === 'string') return `${what} (${e.data.provider})`
  return what
}

let activityCursor: string | null = null

/** The user's security events, newest first; `more` appends the next older page. */
async function loadActivity (more = false): Promise<void> {
  const body = $('activity').querySelector('tbody') as HTMLTableSectionElement
  const page = await client.activity(more && activityCursor !== null ? { cursor: activityCursor, limit: 10 } : { limit: 10 })
  if (!more) body.replaceChildren()
  for (const e of page.events) {
    const row = document.createElement('tr')
    row.dataset.type = e.type
    for (const text of [new Date(e.at).toLocaleString(), describe(e), e.ip ?? '', e.userAgent ?? '']) {
      const td = document.createElement('td')
      td.textContent = text
      row.append(td)
    }
    body.append(row)
  }
  activityCursor = page.nextCursor
  show('activity-more', activityCursor !== null)
}
const methodNames: Record<SessionInfo['method'], string> = { password: 'password', passkey: 'passkey', email_code: 'email code', provider: 'identity provider' }

async function revoke (s: SessionInfo): Promise<void> {
  await client.endSession(s.id)
  if (s.current) {
    renderSignedOut()
    notice('This session has ended.')
  } else {
    notice('That session has ended.')
    await loadSessions()
  }
}

async function afterLogin (answer: LoginResult<'cookie'>): Promise<void> {
  // A passkey request still waiting in the autofill belongs to the sign-in just made.
  WebAuthnAbortService.cancelCeremony()
  if (answer.mfaRequired) {
    mfaToken = answer.mfaToken
    mfaWithPasskey = answer.mfaMethods.includes('passkey')
    show('mfa')
    show('mfa-passkey', mfaWithPasskey && passkeysUsable())
    $('mfa-code').focus()
    notice(mfaWithPasskey ? 'Enter the code from your authenticator app, or use a passkey.' : 'Enter the code from your authenticator app.')
    return
  }
  renderSignedIn(answer)
  notice(`Signed in as ${answer.user.email}.`)
  await loadSessions()
  await loadIdentities()
  await loadActivity()
  await loadPasskeys()
}

function wire (): void {
  on('register-form', async () => {
    const answer = await client.register({ email: value('register-email'), password: value('register-password') })
    notice(answer.message)
  })
  on('resend-form', async () => {
    notice((await client.resendVerification({ email: value('resend-email') })).message)
  })
  on('email-code-request-form', async () => {
    notice((await client.requestEmailCode({ email: value('email-code-email') })).message)
    show('email-code-form')
    $('email-code-code').focus()
  })
  on('email-code-form', async () => {
    const answer = await client.verifyEmailCode({ email: value('email-code-email'), code: value('email-code-code').trim() })
    $<HTMLInputElement>('email-code-code').value = ''
    show('email-code-form', false)
    await afterLogin(answer)
  })
  on('forgot-form', async () => {
    notice((await client.forgotPassword({ email: value('forgot-email') })).message)
  })
  on('login-form', async () => {
    const id = value('login-email')
    const answer = await client.login({ [id.includes('@') ? 'email' : 'username']: id, password: value('login-password') })
    $<HTMLInputElement>('login-password').value = ''
    await afterLogin(answer)
  })
  on('mfa-form', async () => {
    if (mfaToken === undefined) throw new Error('Sign in first.')
    const code = value('mfa-code').trim()
    const answer = await client.verifyMfa({ mfaToken, code, method: /^[0-9]{6}$/.test(code) ? 'totp' : 'backup_code' })
    $<HTMLInputElement>('mfa-code').value = ''
    show('mfa', false)
    await afterLogin(answer)
  })
  on('passkey-signin', signInWithPasskey)
  on('mfa-passkey', async () => {
    if (mfaToken === undefined) throw new Error('Sign in first.')
    WebAuthnAbortService.cancelCeremony()
    const token = mfaToken
    const response = await startAuthentication({ optionsJSON: await client.passkeyMfaOptions({ mfaToken: token }) })
    const answer = await client.verifyPasskeyMfa({ mfaToken: token, response })
    show('mfa', false)
    await afterLogin(answer)
  })
  on('passkey-add-form', async () => {
    const password = value('passkey-password')
    const name = value('passkey-name').trim()
    const optionsJSON = await client.passkeyRegistrationOptions(password === '' ? {} : { password })
    $<HTMLInputElement>('passkey-password').value = ''
    const response = await startRegistration({ optionsJSON })
    const passkey = await client.verifyPasskeyRegistration({ response, ...(name === '' ? {} : { name }) })
    $<HTMLInputElement>('passkey-name').value = ''
    notice(`The passkey ${passkey.name} is added: you can sign in with it.`)
    await loadPasskeys()
  })
  on('refresh-me', async () => {
    if (await loadMe()) notice('Session is live.')
    else notice('No live session.')
  })
  on('logout', async () => {
    await client.logout()
    renderSignedOut()
    notice('Signed out.')
  })
  on('activity-more', async () => { await loadActivity(true) })
  on('sessions-more', async () => { await loadSessions(true) })
  on('logout-all', async () => {
    await client.logoutAll()
    renderSignedOut()
    notice('Signed out everywhere.')
  })
  on('twofa-setup-form', async () => {
    const setup = await client.setupTotp({ password: value('twofa-password') })
    $<HTMLInputElement>('twofa-password').value = ''
    // An <img> never runs script inside the SVG, and a data: image passes a strict CSP's img-src.
    $<HTMLImageElement>('twofa-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`
    $('twofa-secret').textContent = setup.secret
    show('twofa-enrol')
  })
  on('twofa-enable-form', async () => {
    const { backupCodes } = await client.enableTotp({ code: value('twofa-code').trim() })
    $<HTMLInputElement>('twofa-code').value = ''
    showBackupCodes(backupCodes)
    show('twofa-enrol', false)
    await loadMe()
    notice('Two-factor authentication is on.')
  })
  on('profile-form', async () => {
    const text = (id: string): string | null => value(id).trim() === '' ? null : value(id)
    const { user } = await client.updateProfile({ username: text('profile-username'), firstName: text('profile-first'), lastName: text('profile-last') })
    $<HTMLInputElement>('profile-username').value = user.username ?? ''
    notice('Profile saved.')
  })
  on('email-change-form', async () => {
    const answer = await client.requestEmailChange({ newEmail: value('email-change-new'), password: value('email-change-password') })
    $<HTMLInputElement>('email-change-password').value = ''
    notice(`${answer.message} The address changes once you follow it.`)
  })
  on('delete-form', async () => {
    if (!confirm('Delete your account and everything kept about it? This cannot be undone.')) return
    const code = value('delete-code').trim()
    await client.deleteAccount({ password: value('delete-password'), ...(code === '' ? {} : { totpCode: code }) })
    $<HTMLInputElement>('delete-password').value = ''
    renderSignedOut()
    notice('Your account was deleted.')
  })
  on('twofa-backup-form', async () => {
    const { backupCodes } = await client.regenerateBackupCodes({ password: value('backup-password'), code: value('backup-code').trim() })
    $<HTMLInputElement>('backup-password').value = ''
    $<HTMLInputElement>('backup-code').value = ''
    showBackupCodes(backupCodes)
    notice('New backup codes: the old ones no longer work.')
  })
  on('reset-form', async () => {
    const token = resetToken
    if (token === undefined) throw new Error('This page was not opened from a reset link.')
    notice((await client.resetPassword({ token, password: value('reset-password') })).message)
    $<HTMLInputElement>('reset-password').value = ''
    resetToken = undefined
    show('reset', false)
    renderSignedOut()
  })
}

function showBackupCodes (codes: string[]): void {
  $('backup-codes').replaceChildren(...codes.map(c => { const li = document.createElement('li'); li.textContent = c; return li }))
  show('twofa-done')
}

let resetToken: string | undefined

/**
 * The emailed links: /verify-email, /reset-password, /confirm-email (a new address) and
 * /cancel-email-change ("this wasn't me") and /sign-in (an emailed sign-in link), each
 * with ?token=...
 */
async function handleLink (): Promise<void> {
  const token = new URLSearchParams(location.search).get('token')
  const path = location.pathname.replace(/\/+$/, '')
  if (token === null || !['/verify-email', '/reset-password', '/confirm-email', '/cancel-email-change', '/sign-in'].includes(path)) return
  // The token leaves the address bar (and so the history) at once.
  history.replaceState(null, '', '/')
  if (path === '/sign-in') {
    // The session or the 2FA challenge this gives is what loadMe then finds.
    try {
      await afterLogin(await client.verifyEmailCode({ token }))
    } catch (err) {
      showError(err)
    }
    return
  }
  if (path === '/reset-password') {
    resetToken = token
    show('reset')
    return
  }
  if (path === '/confirm-email' || path === '/cancel-email-change') {
    show('email-link')
    try {
      $('email-link-state').textContent = path === '/confirm-email'
        ? `Your account's address is now ${(await client.confirmEmailChange({ token })).user.email}.`
        : (await client.cancelEmailChange({ token })).message
    } catch (err) {
      $('email-link-state').textContent = 'This link cannot be used.'
      showError(err)
    }
    return
  }
  show('verify')
  try {
    const answer = await client.verifyEmail({ token })
    $('verify-state').textContent = `${answer.message}: ${answer.user.email}. You can sign in now.`
    $<HTMLInputElement>('login-email').value = answer.user.email
  } catch (err) {
    $('verify-state').textContent = 'This link cannot be used.'
    showError(err)
  }
}

async function main (): Promise<void> {
  $('api-base').textContent = apiBase === '' ? location.origin : apiBase
  if (onIpAddress()) {
    const url = new URL(location.href)
    url.hostname = 'localhost'
    $<HTMLAnchorElement>('passkey-localhost-link').href = url.href
    $('passkey-localhost-link').textContent = url.origin
    show('passkey-localhost')
  }
  show('passkey-signin', passkeysUsable())
  show('passkeys-section', passkeysUsable())
  wire()
  await handleLink()
  await loadProviders()
  await handleProviderReturn().catch(showError)
  try {
    await loadMe()
  } catch (err) {
    renderSignedOut()
    showError(err)
  }
  document.body.dataset.ready = 'true'
}

main().catch(showError)
