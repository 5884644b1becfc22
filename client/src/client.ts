import type {
  ActivityPage, AdminCreateUserBody, AdminListQuery, AdminUpdateUserBody, AdminUser, AdminUserAnswer, AdminUserDetail, BackupCodes,
  ChangePasswordBody, DeleteAccountBody, DisableTotpBody, EmailChangeBody, EmailCodeRequestBody, EmailCodeVerifyBody, EmailTokenBody, EnableTotpBody, ForgotPasswordBody, Identity,
  IdentityList, LoginBody, LoginSuccess, LogoutBody, Me, Message, MfaChallenge, OAuthCompleteBody, OAuthLinkBody, OAuthLinkStart, OAuthProvider,
  OAuthProviderList, Passkey, PasskeyCreationOptions, PasskeyList, PasskeyMfaBody, PasskeyMfaOptionsBody, PasskeyRegisterBody,
  PasskeyRegisterOptionsBody, PasskeyRenameBody, PasskeyRequestOptions, PasskeySignInBody, PasskeySignInStart, PasswordBody, ProfileBody,
  RegenerateBackupCodesBody, RegisterBody, ResendBody, ResetPasswordBody, SessionInfo, SessionList, TokenGrant, TotpSetup, UserAnswer,
  UserPage, VerifiedEmail, VerifyEmailBody, VerifyMfaBody
} from './api-types.js'
import { GatehouseError } from './errors.js'

/**
 * `cookie`: for a browser app. The session lives in an HttpOnly cookie the script never
 * sees; every call is made with `credentials: 'include'`, and the CSRF token from login and
 * /me is sent back in `X-CSRF-Token` on state-changing calls.
 * `bearer`: for scripts, servers and mobile apps. /token's access token is kept in memory
 * and sent as `Authorization: Bearer`; when it expires, the refresh token gets a new pair,
 * one refresh at a time however many calls are waiting for it.
 */
export type Mode = 'cookie' | 'bearer'

/** A successful sign-in: the session (cookie mode) or the tokens (bearer mode). */
export type SignedIn<M extends Mode> = { mfaRequired: false } & (M extends 'bearer' ? TokenGrant : LoginSuccess)

/** What login answers: signed in, or a second factor is needed (answer it with verifyMfa). */
export type LoginResult<M extends Mode> = SignedIn<M> | MfaChallenge

/** The tokens a bearer client holds; persist them (onTokens) to survive a restart. */
export type Tokens = Pick<TokenGrant, 'accessToken' | 'refreshToken' | 'expiresAt'>

export interface SessionEndEvent {
  /** the 401 that ended it */
  error: GatehouseError
  /** the call that got it, as `METHOD /path` */
  request: string
}

export interface ClientOptions<M extends Mode> {
  /** The server's origin, e.g. `https://auth.example.com`; '' (the default) is the page's own origin. */
  baseUrl?: string
  mode?: M
  /** A fetch to use instead of the global one (a cookie-jar fetch for cookie mode in Node, say). */
  fetch?: typeof fetch
  /** Bearer mode: tokens from an earlier run. */
  tokens?: Tokens
  /** Bearer mode: called with each new token pair, and with null when they are gone. */
  onTokens?: (tokens: Tokens | null) => void
  /** Called when a call that had a session gets 401: time to show the sign-in page. */
  onSessionEnd?: (event: SessionEndEvent) => void
  /**
   * Bearer mode: seconds before `expiresAt` at which the client refreshes without waiting
   * for a 401 (default 0; negative when this clock runs ahead of the server's). A call that
   * meets the expiry anyway gets a 401, refreshes and is retried once.
   */
  refreshLeeway?: number
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

interface CallOptions {
  /** Sends credentials and counts a 401 as the end of the session. */
  auth?: boolean
}

export class GatehouseClient<M extends Mode = 'cookie'> {
  readonly mode: M
  readonly #base: string
  readonly #origin: string
  readonly #fetch: typeof fetch
  readonly #onTokens?: (tokens: Tokens | null) => void
  readonly #listeners = new Set<(event: SessionEndEvent) => void>()
  readonly #leewayMs: number
  #csrfToken?: string
  #tokens?: Tokens
  #refreshing?: Promise<Tokens>

  constructor (options: ClientOptions<M> = {}) {
    this.mode = options.mode ?? 'cookie' as M
    this.#origin = (options.baseUrl ?? '').replace(/\/+$/, '')
    this.#base = `${this.#origin}/api/auth`
    // Called through a wrapper: window.fetch refuses to run with another `this`.
    const f = options.fetch
    this.#fetch = f !== undefined ? async (input, init) => await f(input, init) : async (input, init) => await fetch(input, init)
    this.#tokens = options.tokens
    this.#onTokens = options.onTokens
    this.#leewayMs = (options.refreshLeeway ?? 0) * 1000
    if (options.onSessionEnd !== undefined) this.#listeners.add(options.onSessionEnd)
  }

  /** Adds a session-end listener; returns the function that removes it. */
  onSessionEnd (listener: (event: SessionEndEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Cookie mode: the CSRF token of the current session, if the client has seen one. */
  get csrfToken (): string | undefined { return this.#csrfToken }

  /** Bearer mode: the tokens held, if any. */
  get tokens (): Tokens | undefined { return this.#tokens }

  // --- account -----------------------------------------------------------------------

  async register (body: RegisterBody): Promise<Message> {
    return await this.#call<Message>('POST', '/register', body)
  }

  async verifyEmail (body: VerifyEmailBody): Promise<VerifiedEmail> {
    return await this.#call<VerifiedEmail>('POST', '/verify-email', body)
  }

  async resendVerification (body: ResendBody): Promise<Message> {
    return await this.#call<Message>('POST', '/verify-email/resend', body)
  }

  // --- signing in and out ------------------------------------------------------------

  /** POST /login (cookie mode) or POST /token (bearer mode). */
  async login (body: LoginBody): Promise<LoginResult<M>> {
    const answer = await this.#call<LoginSuccess | TokenGrant | MfaChallenge>('POST', this.mode === 'bearer' ? '/token' : '/login', body)
    if ('mfaRequired' in answer) return answer
    return this.#signedIn(answer)
  }

  /**
   * Mails a 6-digit code and a sign-in link (`/sign-in?token=...`) to the address if it
   * belongs to a verified account; the same answer for any address.
   */
  async requestEmailCode (body: EmailCodeRequestBody): Promise<Message> {
    return await this.#call<Message>('POST', '/email-code/request', body)
  }

  /**
   * Signs in with the emailed code (`{ email, code }`) or the link's token (`{ token }`): as
   * login does, a session (cookie mode) or tokens (bearer mode), or a second-factor challenge.
   */
  async verifyEmailCode (body: Omit<EmailCodeVerifyBody, 'grant'>): Promise<LoginResult<M>> {
    const answer = await this.#call<LoginSuccess | TokenGrant | MfaChallenge>('POST', '/email-code/verify', { ...body, ...(this.mode === 'bearer' ? { grant: 'token' } : {}) })
    if ('mfaRequired' in answer) return answer
    return this.#signedIn(answer)
  }

  /** Answers the challenge of a login that needs a second factor. */
  async verifyMfa (body: VerifyMfaBody): Promise<SignedIn<M>> {
    return this.#signedIn(await this.#call<LoginSuccess | TokenGrant>('POST', '/mfa/verify', body))
  }

  /** The signed-in user; in cookie mode it also picks up the session's CSRF token. */
  async me (): Promise<Me> {
    const me = await this.#call<Me>('GET', '/me', undefined, { auth: true })
    if (this.mode === 'cookie') this.#csrfToken = me.csrfToken
    return me
  }

  /**
   * Ends this session (bearer mode: this token family, named by its refresh token, so an
   * expired access token needs no refresh first). Never fails for want of a session.
   */
  async logout (): Promise<void> {
    try {
      if (this.mode === 'bearer') {
        const refreshToken = this.#tokens?.refreshToken
        await this.#call('POST', '/logout', refreshToken === undefined ? undefined : { refreshToken } satisfies LogoutBody)
      } else {
        await this.#call('POST', '/logout', undefined, { auth: true })
      }
    } finally {
      this.#forget()
    }
  }

  /** Ends every session and token family of the user, this one included. */
  async logoutAll (): Promise<void> {
    await this.#call('POST', '/logout-all', undefined, { auth: true })
    this.#forget()
  }

  /** Every session and token family of the user, most recently used first (all pages). */
  async sessions (): Promise<SessionInfo[]> {
    const all: SessionInfo[] = []
    let cursor: string | null | undefined
    do {
      const page = await this.sessionPage({ cursor: cursor ?? undefined })
      all.push(...page.sessions)
      cursor = page.nextCursor
    } while (cursor !== null)
    return all
  }

  /** One page of sessions(): `limit` (1 to 100, default 100) from `cursor`, a page's `nextCursor`. */
  async sessionPage (page: { cursor?: string, limit?: number } = {}): Promise<SessionList> {
    const query = new URLSearchParams()
    if (page.cursor !== undefined) query.set('cursor', page.cursor)
    if (page.limit !== undefined) query.set('limit', String(page.limit))
    const q = query.size === 0 ? '' : `?${query.toString()}`
    return await this.#call<SessionList>('GET', `/sessions${q}`, undefined, { auth: true })
  }

  /** Ends one of the user's sessions or token families, by its `id` from sessions(). */
  async endSession (id: string): Promise<void> {
    await this.#call('DELETE', `/sessions/${encodeURIComponent(id)}`, undefined, { auth: true })
  }

  // --- password ----------------------------------------------------------------------

  async forgotPassword (body: ForgotPasswordBody): Promise<Message> {
    return await this.#call<Message>('POST', '/password/forgot', body)
  }

  async resetPassword (body: ResetPasswordBody): Promise<Message> {
    return await this.#call<Message>('POST', '/password/reset', body)
  }

  /** Ends the user's other sessions; a cookie session continues under a new id and CSRF token. */
  async changePassword (body: ChangePasswordBody): Promise<Message> {
    const answer = await this.#call<Message>('POST', '/password/change', body, { auth: true })
    // The session has a new id, and so a new CSRF token.
    if (this.mode === 'cookie') await this.me()
    return answer
  }

  // --- two-factor --------------------------------------------------------------------

  async setupTotp (body: PasswordBody): Promise<TotpSetup> {
    return await this.#call<TotpSetup>('POST', '/2fa/setup', body, { auth: true })
  }

  async enableTotp (body: EnableTotpBody): Promise<BackupCodes> {
    return await this.#call<BackupCodes>('POST', '/2fa/enable', body, { auth: true })
  }

  async disableTotp (body: DisableTotpBody): Promise<Message> {
    return await this.#call<Message>('POST', '/2fa/disable', body, { auth: true })
  }

  /** Needs both factors: the password and a TOTP or backup code (a backup code is spent). */
  async regenerateBackupCodes (body: RegenerateBackupCodesBody): Promise<BackupCodes> {
    return await this.#call<BackupCodes>('POST', '/2fa/backup-codes', body, { auth: true })
  }

  // --- other identity providers (OpenID Connect, OAuth 2) -----------------------------

  /** The configured providers, for a `Sign in with <name>` button each. */
  async oauthProviders (): Promise<OAuthProvider[]> {
    return (await this.#call<OAuthProviderList>('GET', '/oauth/providers')).providers
  }

  /**
   * Where to send the browser (a top-level navigation, `location.assign`) to sign in with a
   * provider. It comes back to `returnTo` (a path, or a URL on an origin the server allows):
   * signed in; with `#mfaToken=` (answer with verifyMfa); with `#signInToken=` when
   * `returnTo` is on another origin than the server (redeem it with completeOAuth); or with
   * `?error=CODE`.
   */
  oauthStartUrl (provider: string, returnTo?: string): string {
    const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
    return `${this.#base}/oauth/${encodeURIComponent(provider)}/start${query}`
  }

  /**
   * Cookie mode: signs in with the `#signInToken=` a provider sign-in handed to a page on
   * another origin than the server. Works once, within 60 seconds.
   */
  async completeOAuth (body: OAuthCompleteBody): Promise<SignedIn<M>> {
    if (this.mode === 'bearer') throw new Error('completeOAuth sets a session cookie: it is for cookie mode')
    return this.#signedIn(await this.#call<LoginSuccess>('POST', '/oauth/complete', body))
  }

  /**
   * Begins linking a provider identity to the signed-in account: send the browser to the
   * answer's `url`. The flow is bound to the browser by a cookie, so this is for cookie
   * mode in a browser. It comes back to `returnTo?linked=<provider>` (or `?error=CODE`).
   */
  async linkIdentity (provider: string, body: OAuthLinkBody = {}): Promise<OAuthLinkStart> {
    return await this.#call<OAuthLinkStart>('POST', `/oauth/${encodeURIComponent(provider)}/link`, body, { auth: true })
  }

  async identities (): Promise<Identity[]> {
    return (await this.#call<IdentityList>('GET', '/identities', undefined, { auth: true })).identities
  }

  /** Refused with LAST_SIGN_IN_METHOD when the account has no password and this is its only identity. */
  async unlinkIdentity (id: string): Promise<void> {
    await this.#call('DELETE', `/identities/${encodeURIComponent(id)}`, undefined, { auth: true })
  }

  /**
   * A page of the signed-in user's security events, newest first. Pass the answer's
   * `nextCursor` as `cursor` for the next (older) page; it is null on the last one.
   */
  async activity (query: { cursor?: string, limit?: number } = {}): Promise<ActivityPage> {
    const params = new URLSearchParams()
    if (query.cursor !== undefined) params.set('cursor', query.cursor)
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    const search = params.size === 0 ? '' : `?${params.toString()}`
    return await this.#call<ActivityPage>('GET', `/activity${search}`, undefined, { auth: true })
  }

  // --- the account -------------------------------------------------------------------

  /** Changes the username, first or last name (null clears one). */
  async updateProfile (body: ProfileBody): Promise<UserAnswer> {
    return await this.#call<UserAnswer>('PATCH', '/me', body, { auth: true })
  }

  /** Mails a confirmation link to `newEmail`; the address changes once it is followed. */
  async requestEmailChange (body: EmailChangeBody): Promise<Message> {
    return await this.#call<Message>('POST', '/email/change', body, { auth: true })
  }

  /** The token of the link mailed to the new address (`/confirm-email?token=...`). */
  async confirmEmailChange (body: EmailTokenBody): Promise<UserAnswer> {
    return await this.#call<UserAnswer>('POST', '/email/confirm', body)
  }

  /** "This wasn't me": the token of the link mailed to the old address; ends every session. */
  async cancelEmailChange (body: EmailTokenBody): Promise<Message> {
    return await this.#call<Message>('POST', '/email/cancel', body)
  }

  /** Deletes the account (password, and `totpCode` with 2FA on); the client is signed out. */
  async deleteAccount (body: DeleteAccountBody): Promise<void> {
    await this.#call('DELETE', '/me', body, { auth: true })
    this.#forget()
  }

  // --- the admin API (role admin) -----------------------------------------------------

  /** A page of users by email or username prefix; pass `nextCursor` back as `cursor`. */
  async adminListUsers (query: AdminListQuery = {}): Promise<UserPage> {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined))
    const qs = params.toString()
    return await this.#call<UserPage>('GET', `/api/admin/users${qs === '' ? '' : `?${qs}`}`, undefined, { auth: true })
  }

  async adminGetUser (id: string): Promise<AdminUserDetail> {
    return await this.#call<AdminUserDetail>('GET', `/api/admin/users/${encodeURIComponent(id)}`, undefined, { auth: true })
  }

  async adminCreateUser (body: AdminCreateUserBody): Promise<AdminUser> {
    return (await this.#call<AdminUserAnswer>('POST', '/api/admin/users', body, { auth: true })).user
  }

  async adminUpdateUser (id: string, body: AdminUpdateUserBody): Promise<AdminUser> {
    return (await this.#call<AdminUserAnswer>('PATCH', `/api/admin/users/${encodeURIComponent(id)}`, body, { auth: true })).user
  }

  /**
   * One of the user actions: `disable` (ends every session), `enable`, `sessions/end`,
   * `2fa/reset`, `password-reset` (mails a reset link).
   */
  async adminAction (id: string, action: 'disable' | 'enable' | 'sessions/end' | '2fa/reset' | 'password-reset'): Promise<Message> {
    return await this.#call<Message>('POST', `/api/admin/users/${encodeURIComponent(id)}/${action}`, undefined, { auth: true })
  }

  async adminDeleteUser (id: string): Promise<void> {
    await this.#call('DELETE', `/api/admin/users/${encodeURIComponent(id)}`, undefined, { auth: true })
  }

  // --- passkeys (WebAuthn) ------------------------------------------------------------
  // The options go to @simplewebauthn/browser's startRegistration / startAuthentication
  // (`{ optionsJSON }`), and what those answer comes back here as `response`.

  /** Signed in: the creation options of a new passkey. A sign-in older than 10 minutes sends `{ password }`. */
  async passkeyRegistrationOptions (body: PasskeyRegisterOptionsBody = {}): Promise<PasskeyCreationOptions> {
    return await this.#call<PasskeyCreationOptions>('POST', '/passkeys/register/options', body, { auth: true })
  }

  async verifyPasskeyRegistration (body: PasskeyRegisterBody): Promise<Passkey> {
    return await this.#call<Passkey>('POST', '/passkeys/register/verify', body, { auth: true })
  }

  /** A challenge for signing in with a passkey (also for conditional UI, `useBrowserAutofill`). */
  async passkeySignInOptions (): Promise<PasskeySignInStart> {
    return await this.#call<PasskeySignInStart>('POST', '/passkeys/login/options')
  }

  /** Signs in with the passkey's answer: a session in cookie mode, tokens in bearer mode. */
  async verifyPasskeySignIn (body: Omit<PasskeySignInBody, 'grant'>): Promise<SignedIn<M>> {
    const grant = this.mode === 'bearer' ? 'token' : 'session'
    return this.#signedIn(await this.#call<LoginSuccess | TokenGrant>('POST', '/passkeys/login/verify', { ...body, grant }))
  }

  /** The second step with a passkey, when the challenge's `mfaMethods` holds `passkey`. */
  async passkeyMfaOptions (body: PasskeyMfaOptionsBody): Promise<PasskeyRequestOptions> {
    return await this.#call<PasskeyRequestOptions>('POST', '/passkeys/mfa/options', body)
  }

  async verifyPasskeyMfa (body: PasskeyMfaBody): Promise<SignedIn<M>> {
    return this.#signedIn(await this.#call<LoginSuccess | TokenGrant>('POST', '/passkeys/mfa/verify', body))
  }

  async passkeys (): Promise<Passkey[]> {
    return (await this.#call<PasskeyList>('GET', '/passkeys', undefined, { auth: true })).passkeys
  }

  async renamePasskey (id: string, body: PasskeyRenameBody): Promise<Passkey> {
    return await this.#call<Passkey>('PATCH', `/passkeys/${encodeURIComponent(id)}`, body, { auth: true })
  }

  /** Refused with LAST_SIGN_IN_METHOD when it is the account's last way to sign in. */
  async deletePasskey (id: string): Promise<void> {
    await this.#call('DELETE', `/passkeys/${encodeURIComponent(id)}`, undefined, { auth: true })
  }

  // --- bearer tokens -----------------------------------------------------------------

  /**
   * Spends the refresh token for a new pair. Calls made while a refresh is in flight share
   * it: a refresh token works once, and presenting a spent one ends the whole family.
   */
  async refresh (): Promise<Tokens> {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = undefined })
    return await this.#refreshing
  }

  async #refresh (): Promise<Tokens> {
    const refreshToken = this.#tokens?.refreshToken
    if (refreshToken === undefined) throw new GatehouseError({ type: 'about:blank', title: 'Not signed in', status: 401, detail: 'No refresh token: sign in first.', code: 'UNAUTHENTICATED' })
    try {
      return this.#keep(await this.#call<TokenGrant>('POST', '/token/refresh', { refreshToken }))
    } catch (err) {
      // Only a refused token ends the session; a network error or a 503 may pass.
      if (err instanceof GatehouseError && err.status === 401 && this.#tokens?.refreshToken === refreshToken) {
        this.#forget()
        this.#ended(err, 'POST /token/refresh')
      }
      throw err
    }
  }

  // --- plumbing ----------------------------------------------------------------------

  #signedIn (answer: LoginSuccess | TokenGrant): SignedIn<M> {
    if ('accessToken' in answer) this.#keep(answer)
    else this.#csrfToken = answer.csrfToken
    return { mfaRequired: false, ...answer } as unknown as SignedIn<M>
  }

  #keep (grant: TokenGrant): Tokens {
    const tokens = { accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt: grant.expiresAt }
    this.#tokens = tokens
    this.#onTokens?.(tokens)
    return tokens
  }

  #forget (): void {
    this.#csrfToken = undefined
    if (this.#tokens !== undefined) {
      this.#tokens = undefined
      this.#onTokens?.(null)
    }
  }

  #ended (error: GatehouseError, request: string): void {
    for (const listener of [...this.#listeners]) listener({ error, request })
  }

  async #call<T> (method: Method, path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    const bearer = this.mode === 'bearer' && options.auth === true
    if (bearer) {
      // Wait for a refresh in flight rather than send a token it is about to replace.
      if (this.#refreshing !== undefined) await this.#refreshing.catch(() => {})
      const t = this.#tokens
      if (t !== undefined && Date.parse(t.expiresAt) - this.#leewayMs <= Date.now()) await this.refresh().catch(() => {})
    }
    let sent = bearer ? this.#tokens?.accessToken : undefined
    let res = await this.#send(method, path, body, sent)
    // Bearer: a 401 means the access token expired (or the family ended). Refresh, or take
    // the pair another call just got, and retry; a refused refresh ends the session. Bounded,
    // as a pair can expire again before a slow retry arrives.
    for (let retry = 0; retry < 3 && !res.ok && isUnauthenticated(res.error); retry++) {
      const held = this.#tokens
      if (!bearer || held === undefined) break
      try {
        if (held.accessToken === sent) await this.refresh()
      } catch (err) {
        // The refresh was refused and has said so (onSessionEnd); the caller gets the 401.
        if (err instanceof GatehouseError && err.status === 401) throw res.error
        throw err
      }
      sent = this.#tokens?.accessToken
      res = await this.#send(method, path, body, sent)
    }
    if (res.ok) return res.value as T
    if (options.auth === true && isUnauthenticated(res.error)) {
      const hadSession = this.mode === 'cookie' ? this.#csrfToken !== undefined : this.#tokens !== undefined
      this.#forget()
      if (hadSession) this.#ended(res.error, `${method} ${path}`)
    }
    throw res.error
  }

  async #send (method: Method, path: string, body: unknown, accessToken: string | undefined): Promise<{ ok: true, value: unknown } | { ok: false, error: GatehouseError }> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' }
    // No Content-Type without a body: the server refuses an empty JSON body.
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.mode === 'cookie' && method !== 'GET' && this.#csrfToken !== undefined) headers['x-csrf-token'] = this.#csrfToken
    if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`
    // Paths are under /api/auth unless they name /api/... themselves (the admin API).
    const res = await this.#fetch(path.startsWith('/api/') ? this.#origin + path : this.#base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Bearer mode sends no cookies, so no session cookie can stand in for the token.
      credentials: this.mode === 'cookie' ? 'include' : 'omit'
    })
    const text = await res.text()
    if (res.ok) return { ok: true, value: text === '' ? undefined : JSON.parse(text) }
    return { ok: false, error: GatehouseError.fromResponse(res.status, res.headers.get('content-type') ?? '', text, res.headers.get('retry-after')) }
  }
}

function isUnauthenticated (error: GatehouseError): boolean {
  return error.status === 401 && error.code === 'UNAUTHENTICATED'
}

export function createClient<M extends Mode = 'cookie'> (options: ClientOptions<M> = {}): GatehouseClient<M> {
  return new GatehouseClient<M>(options)
}
