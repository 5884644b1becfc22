/// <reference lib="dom" />
/*
 * The demo page: plain TypeScript in the browser, bundled by esbuild (src/http/demo-page.ts).
 * It talks to the API exactly as a single-page app on its own origin would: fetch with
 * credentials: 'include', the session in an HttpOnly cookie it never sees, and the CSRF
 * token from /login and /me sent back in X-CSRF-Token on every state-changing request.
 * Text from the server is only ever set with textContent.
 */

interface User { id: string, email: string, mfaEnabled: boolean }
interface SessionSummary { expiresAt: string }
interface SignedIn { user: User, session: SessionSummary, csrfToken: string }
interface MfaChallenge { mfaRequired: true, mfaToken: string, mfaMethods: string[], expiresIn: number }
interface SessionRow { id: string, createdAt: string, lastSeenAt: string, expiresAt: string, ip: string | null, userAgent: string | null, current: boolean }
interface ProviderRow { id: string, name: string }
interface IdentityRow { id: string, provider: string, email: string | null, linkedAt: string }
interface Problem { type?: string, title?: string, status?: number, detail?: string, code?: string, fieldErrors?: Record<string, string[]>, formErrors?: string[] }

/** An error answer of the API: the RFC 9457 problem document, or what stood in for one. */
class ApiError extends Error {
  constructor (readonly status: number, readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`)
  }
}

const apiBase = (document.querySelector('meta[name="api-base"]')?.getAttribute('content') ?? '').replace(/\/+$/, '')
let csrfToken: string | undefined
let mfaToken: string | undefined

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} is missing from the page`)
  return el as T
}
const show = (id: string, visible = true): void => { $(id).hidden = !visible }
const value = (id: string): string => $<HTMLInputElement>(id).value

async function api<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' }
  // No Content-Type without a body: Fastify refuses an empty JSON body.
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken
  let res: Response
  try {
    res = await fetch(`${apiBase}/api/auth${path}`, {
      method,
      credentials: 'include',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  } catch {
    throw new ApiError(0, { title: 'The API cannot be reached', detail: `No answer from ${apiBase === '' ? location.origin : apiBase} (network error or refused by CORS).` })
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown = null
  try { data = text === '' ? null : JSON.parse(text) } catch { data = null }
  if (!res.ok) throw new ApiError(res.status, (data ?? { title: `HTTP ${res.status}`, detail: text.slice(0, 200) }) as Problem)
  return data as T
}

function notice (message: string): void {
  $('error').hidden = true
  const el = $('notice')
  el.textContent = message
  el.hidden = false
}

/** Shows a problem document readably: title, detail, the field errors, and the code. */
function showError (err: unknown): void {
  $('notice').hidden = true
  const el = $('error')
  el.replaceChildren()
  if (!(err instanceof ApiError)) {
    el.textContent = err instanceof Error ? err.message : String(err)
    el.hidden = false
    return
  }
  const p = err.problem
  const head = document.createElement('strong')
  head.textContent = p.title ?? 'Request failed'
  el.append(head)
  if (p.detail !== undefined && p.detail !== p.title) el.append(document.createTextNode(`: ${p.detail}`))
  const fields = Object.entries(p.fieldErrors ?? {})
  if (fields.length > 0 || (p.formErrors ?? []).length > 0) {
    const list = document.createElement('ul')
    for (const [field, messages] of fields) {
      const li = document.createElement('li')
      li.textContent = `${field}: ${messages.join(', ')}`
      list.append(li)
    }
    for (const m of p.formErrors ?? []) {
      const li = document.createElement('li')
      li.textContent = m
      list.append(li)
    }
    el.append(list)
  }
  if (p.code !== undefined) {
    const code = document.createElement('div')
    code.className = 'code'
    code.textContent = `${err.status} ${p.code}`
    el.append(code)
  }
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
  csrfToken = undefined
  show('signed-in', false)
  show('signed-out')
  show('mfa', mfaToken !== undefined)
}

function renderSignedIn (me: SignedIn): void {
  csrfToken = me.csrfToken
  mfaToken = undefined
  show('verify', false)
  show('signed-out', false)
  show('signed-in')
  $('me-email').textContent = me.user.email
  $('me-id').textContent = me.user.id
  $('me-mfa').textContent = me.user.mfaEnabled ? 'on' : 'off'
  $('me-expires').textContent = new Date(me.session.expiresAt).toLocaleString()
  show('twofa-setup-form', !me.user.mfaEnabled)
}

/** /me decides what the page shows: a live session or the sign-in forms. */
async function loadMe (): Promise<boolean> {
  try {
    renderSignedIn(await api<SignedIn>('GET', '/me'))
    await loadSessions()
    await loadIdentities()
    return true
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      renderSignedOut()
      return false
    }
    throw err
  }
}

let providers: ProviderRow[] = []

/** Where the API sends the browser back after a provider: this page, on its own origin. */
const returnTo = (): string => `${location.origin}/`

/** A button per configured provider; a plain navigation to the API's start route. */
async function loadProviders (): Promise<void> {
  try {
    providers = (await api<{ providers: ProviderRow[] }>('GET', '/oauth/providers')).providers
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
      location.assign(`${apiBase}/api/auth/oauth/${encodeURIComponent(p.id)}/start?returnTo=${encodeURIComponent(returnTo())}`)
    })
    return button
  }))
  show('providers', providers.length > 0)
}

async function loadIdentities (): Promise<void> {
  show('identities-section', providers.length > 0)
  if (providers.length === 0) return
  const list = (await api<{ identities: IdentityRow[] }>('GET', '/identities')).identities
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
      api('DELETE', `/identities/${encodeURIComponent(i.id)}`).then(async () => {
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
      api<{ url: string }>('POST', `/oauth/${encodeURIComponent(p.id)}/link`, { returnTo: returnTo() })
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
  if (error !== null) showError(new ApiError(401, { title: 'Signing in with the provider did not work', detail: providerErrors[error] ?? 'Try again.', code: error }))
  if (linked !== null) notice('The identity is linked to your account.')
  if (challenge !== null) {
    mfaToken = challenge
    notice('Enter the code from your authenticator app.')
  }
  if (handoff !== null) await afterLogin(await api<SignedIn>('POST', '/oauth/complete', { signInToken: handoff }))
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

async function loadSessions (): Promise<void> {
  const body = $('sessions').querySelector('tbody') as HTMLTableSectionElement
  body.replaceChildren()
  let sessions: SessionRow[]
  try {
    sessions = (await api<{ sessions: SessionRow[] }>('GET', '/sessions')).sessions
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      $('sessions-note').textContent = 'This server has no session list (GET /api/auth/sessions).'
      show('sessions-note')
      return
    }
    throw err
  }
  show('sessions-note', false)
  for (const s of sessions) {
    const row = document.createElement('tr')
    row.dataset.sessionId = s.id
    if (s.current) row.className = 'current'
    for (const text of [new Date(s.createdAt).toLocaleString(), new Date(s.lastSeenAt).toLocaleString(), s.ip ?? '', s.userAgent ?? '']) {
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

async function revoke (s: SessionRow): Promise<void> {
  await api('DELETE', `/sessions/${encodeURIComponent(s.id)}`)
  if (s.current) {
    renderSignedOut()
    notice('This session has ended.')
  } else {
    notice('That session has ended.')
    await loadSessions()
  }
}

async function afterLogin (answer: SignedIn | MfaChallenge): Promise<void> {
  if ('mfaRequired' in answer) {
    mfaToken = answer.mfaToken
    show('mfa')
    $('mfa-code').focus()
    notice('Enter the code from your authenticator app.')
    return
  }
  renderSignedIn(answer)
  notice(`Signed in as ${answer.user.email}.`)
  await loadSessions()
  await loadIdentities()
}

function wire (): void {
  on('register-form', async () => {
    const answer = await api<{ message: string }>('POST', '/register', { email: value('register-email'), password: value('register-password') })
    notice(answer.message)
  })
  on('resend-form', async () => {
    notice((await api<{ message: string }>('POST', '/verify-email/resend', { email: value('resend-email') })).message)
  })
  on('forgot-form', async () => {
    notice((await api<{ message: string }>('POST', '/password/forgot', { email: value('forgot-email') })).message)
  })
  on('login-form', async () => {
    const id = value('login-email')
    const answer = await api<SignedIn | MfaChallenge>('POST', '/login', { [id.includes('@') ? 'email' : 'username']: id, password: value('login-password') })
    $<HTMLInputElement>('login-password').value = ''
    await afterLogin(answer)
  })
  on('mfa-form', async () => {
    if (mfaToken === undefined) throw new Error('Sign in first.')
    const code = value('mfa-code').trim()
    const answer = await api<SignedIn>('POST', '/mfa/verify', { mfaToken, code, method: /^[0-9]{6}$/.test(code) ? 'totp' : 'backup_code' })
    $<HTMLInputElement>('mfa-code').value = ''
    show('mfa', false)
    await afterLogin(answer)
  })
  on('refresh-me', async () => {
    if (await loadMe()) notice('Session is live.')
    else notice('No live session.')
  })
  on('logout', async () => {
    await api('POST', '/logout')
    renderSignedOut()
    notice('Signed out.')
  })
  on('logout-all', async () => {
    await api('POST', '/logout-all')
    renderSignedOut()
    notice('Signed out everywhere.')
  })
  on('twofa-setup-form', async () => {
    const setup = await api<{ secret: string, otpauthUrl: string, qrSvg: string }>('POST', '/2fa/setup', { password: value('twofa-password') })
    $<HTMLInputElement>('twofa-password').value = ''
    // An <img> never runs script inside the SVG, and a data: image passes a strict CSP's img-src.
    $<HTMLImageElement>('twofa-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`
    $('twofa-secret').textContent = setup.secret
    show('twofa-enrol')
  })
  on('twofa-enable-form', async () => {
    const { backupCodes } = await api<{ backupCodes: string[] }>('POST', '/2fa/enable', { code: value('twofa-code').trim() })
    $<HTMLInputElement>('twofa-code').value = ''
    const list = $('backup-codes')
    list.replaceChildren(...backupCodes.map(c => { const li = document.createElement('li'); li.textContent = c; return li }))
    show('twofa-enrol', false)
    show('twofa-done')
    await loadMe()
    notice('Two-factor authentication is on.')
  })
  on('reset-form', async () => {
    const token = resetToken
    if (token === undefined) throw new Error('This page was not opened from a reset link.')
    notice((await api<{ message: string }>('POST', '/password/reset', { token, password: value('reset-password') })).message)
    $<HTMLInputElement>('reset-password').value = ''
    resetToken = undefined
    show('reset', false)
    renderSignedOut()
  })
}

let resetToken: string | undefined

/** The emailed links: /verify-email?token=... and /reset-password?token=... */
async function handleLink (): Promise<void> {
  const token = new URLSearchParams(location.search).get('token')
  const path = location.pathname.replace(/\/+$/, '')
  if (token === null || (path !== '/verify-email' && path !== '/reset-password')) return
  // The token leaves the address bar (and so the history) at once.
  history.replaceState(null, '', '/')
  if (path === '/reset-password') {
    resetToken = token
    show('reset')
    return
  }
  show('verify')
  try {
    const answer = await api<{ message: string, user: User }>('POST', '/verify-email', { token })
    $('verify-state').textContent = `${answer.message}: ${answer.user.email}. You can sign in now.`
    $<HTMLInputElement>('login-email').value = answer.user.email
  } catch (err) {
    $('verify-state').textContent = 'This link cannot be used.'
    showError(err)
  }
}

async function main (): Promise<void> {
  $('api-base').textContent = apiBase === '' ? location.origin : apiBase
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
