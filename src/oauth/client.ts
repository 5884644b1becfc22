import * as oidc from 'openid-client'
import type { OAuth2ProviderSpec, ProviderSpec } from './providers.js'

/** Stable codes a failed flow redirects with (`returnTo?error=CODE`); never a provider's text. */
export type OAuthErrorCode =
  | 'OAUTH_PROVIDER_UNAVAILABLE'
  | 'OAUTH_STATE_INVALID'
  | 'OAUTH_ACCESS_DENIED'
  | 'OAUTH_TOKEN_INVALID'
  | 'OAUTH_EMAIL_UNVERIFIED'
  | 'OAUTH_LINK_REQUIRED'
  | 'OAUTH_SIGNUP_DISABLED'
  | 'OAUTH_IDENTITY_TAKEN'
  | 'ACCOUNT_DISABLED'
  | 'OAUTH_FAILED'

export class OAuthError extends Error {
  readonly code: OAuthErrorCode
  /** where the browser goes back to with `?error=`, once the flow (and so returnTo) is known */
  returnTo?: string
  constructor (code: OAuthErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ?? code, options)
    this.name = 'OAuthError'
    this.code = code
  }
}

/** What the provider says about the person, after every check passed. */
export interface ProviderProfile {
  issuer: string
  subject: string
  /** normalised later; null when the provider gave none */
  email: string | null
  /** true only when the provider asserts that it verified `email` */
  emailVerified: boolean
  givenName: string | null
  familyName: string | null
}

export interface AuthorizationRequest {
  redirectUri: string
  state: string
  nonce: string
  codeVerifier: string
}

export interface ClientOptions {
  /** for each request to a provider */
  timeoutMs: number
}

const NETWORK_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON'])

/**
 * What went wrong, for the log: the messages along the cause chain, never the error objects
 * themselves (openid-client attaches responses and token claims to them).
 */
export function reasonOf (err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err, i = 0; e instanceof Error && i < 4; e = e.cause, i++) parts.push(e.message)
  return parts.join(' <- ').slice(0, 500)
}

/** Maps what openid-client throws to a code; the detail stays in the log. */
export function classify (err: unknown): OAuthError {
  if (err instanceof OAuthError) return err
  if (err instanceof oidc.AuthorizationResponseError) {
    return new OAuthError(err.error === 'access_denied' ? 'OAUTH_ACCESS_DENIED' : 'OAUTH_FAILED', `authorization response error ${err.error}`, { cause: err })
  }
  if (err instanceof oidc.ResponseBodyError) {
    // invalid_grant: a code of another client, a wrong PKCE verifier, a used or expired code.
    return new OAuthError('OAUTH_TOKEN_INVALID', `token endpoint error ${err.error}`, { cause: err })
  }
  if (err instanceof oidc.ClientError) {
    if (err.code !== undefined && NETWORK_CODES.has(err.code)) return new OAuthError('OAUTH_PROVIDER_UNAVAILABLE', err.message, { cause: err })
    return new OAuthError('OAUTH_TOKEN_INVALID', `${err.code ?? ''} ${err.message}`, { cause: err })
  }
  // fetch() failing (refused, DNS, TLS) rejects with a TypeError.
  if (err instanceof TypeError) return new OAuthError('OAUTH_PROVIDER_UNAVAILABLE', err.message, { cause: err })
  return new OAuthError('OAUTH_FAILED', err instanceof Error ? err.message : String(err), { cause: err })
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stringOrNull (v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null
}

/**
 * The relying party: one openid-client Configuration a provider, discovered on first use
 * and kept (a failed discovery is not kept, so the next attempt tries again).
 */
export class OAuthClients {
  readonly #options: ClientOptions
  readonly #configs = new Map<string, Promise<oidc.Configuration>>()

  constructor (options: ClientOptions) {
    this.#options = options
  }

  // openid-client counts its timeout in whole seconds.
  get #seconds (): number { return Math.max(1, Math.round(this.#options.timeoutMs / 1000)) }

  #execute (p: ProviderSpec): Array<(c: oidc.Configuration) => void> {
    // parseProviders admitted plain http only for a provider marked local, outside production.
    return p.local ? [oidc.allowInsecureRequests] : []
  }

  async configuration (p: ProviderSpec): Promise<oidc.Configuration> {
    let config = this.#configs.get(p.id)
    if (config === undefined) {
      config = this.#create(p)
      this.#configs.set(p.id, config)
      config.catch(() => { this.#configs.delete(p.id) })
    }
    try {
      return await config
    } catch (err) {
      throw classify(err)
    }
  }

  async #create (p: ProviderSpec): Promise<oidc.Configuration> {
    const auth = p.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(p.clientSecret)
    const metadata: Partial<oidc.ClientMetadata> = p.clientSecret === undefined ? {} : { client_secret: p.clientSecret }
    if (p.kind === 'oidc') {
      return await oidc.discovery(new URL(p.issuer), p.clientId, metadata, auth, { execute: this.#execute(p), timeout: this.#seconds })
    }
    const config = new oidc.Configuration({
      issuer: p.issuer,
      authorization_endpoint: p.authorizationUrl,
      token_endpoint: p.tokenUrl
    }, p.clientId, metadata, auth)
    for (const fn of this.#execute(p)) fn(config)
    config.timeout = this.#seconds
    return config
  }

  /** Where to send the browser: Authorization Code with PKCE S256, state and (OIDC) nonce. */
  async authorizationUrl (p: ProviderSpec, req: AuthorizationRequest): Promise<URL> {
    const config = await this.configuration(p)
    const params: Record<string, string> = {
      redirect_uri: req.redirectUri,
      response_type: 'code',
      scope: p.scopes.join(' '),
      state: req.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(req.codeVerifier),
      code_challenge_method: 'S256'
    }
    if (p.kind === 'oidc') params.nonce = req.nonce
    return oidc.buildAuthorizationUrl(config, params)
  }

  /**
   * Finishes the flow: checks the authorization response (state, `iss` when the provider
   * sends it), redeems the code with the PKCE verifier, and for OpenID Connect validates the
   * ID token (signature, issuer, audience, expiry, nonce). Throws an OAuthError.
   */
  async finish (p: ProviderSpec, callbackUrl: URL, req: AuthorizationRequest): Promise<ProviderProfile> {
    const config = await this.configuration(p)
    try {
      if (p.kind === 'oidc') {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: req.codeVerifier,
          expectedState: req.state,
          expectedNonce: req.nonce,
          idTokenExpected: true
        })
        const claims = tokens.claims()
        if (claims === undefined) throw new OAuthError('OAUTH_TOKEN_INVALID', 'no ID token')
        let info: Record<string, unknown> = claims
        // Many providers put email only in userinfo; its `sub` must be the ID token's.
        if (claims.email === undefined && config.serverMetadata().userinfo_endpoint !== undefined) {
          info = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), iss: claims.iss, sub: claims.sub }
        }
        return {
          issuer: claims.iss,
          subject: claims.sub,
          email: stringOrNull(info.email),
          emailVerified: info[p.emailVerifiedClaim] === true,
          givenName: stringOrNull(info.given_name),
          familyName: stringOrNull(info.family_name)
        }
      }
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: req.codeVerifier,
        expectedState: req.state
      })
      return await this.#oauth2Profile(p, config, tokens.access_token)
    } catch (err) {
      throw classify(err)
    }
  }

  async #getJson (config: oidc.Configuration, accessToken: string, url: string): Promise<unknown> {
    const headers = new Headers({ accept: 'application/json' })
    const res = await oidc.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, headers)
    if (res.status >= 500) throw new OAuthError('OAUTH_PROVIDER_UNAVAILABLE', `${url} answered ${res.status}`)
    if (!res.ok) throw new OAuthError('OAUTH_TOKEN_INVALID', `${url} answered ${res.status}`)
    return await res.json()
  }

  /**
   * An OAuth 2 provider has no ID token: the person is who its user endpoint says the
   * access token belongs to. An email counts as verified only when the provider says so:
   * GitHub's emails list (`primary` and `verified`), or an `email_verified`-style field.
   */
  async #oauth2Profile (p: OAuth2ProviderSpec, config: oidc.Configuration, accessToken: string): Promise<ProviderProfile> {
    const user = await this.#getJson(config, accessToken, p.userinfoUrl)
    if (!isRecord(user)) throw new OAuthError('OAUTH_TOKEN_INVALID', 'userinfo is not an object')
    const rawSubject = user[p.subjectField]
    const subject = typeof rawSubject === 'number' && Number.isSafeInteger(rawSubject) ? String(rawSubject) : stringOrNull(rawSubject)
    if (subject === null) throw new OAuthError('OAUTH_TOKEN_INVALID', `userinfo has no ${p.subjectField}`)
    let email = stringOrNull(user.email)
    let emailVerified = user[p.emailVerifiedClaim] === true
    if (p.emailsUrl !== undefined) {
      const list = await this.#getJson(config, accessToken, p.emailsUrl)
      const primary = Array.isArray(list) ? list.find(e => isRecord(e) && e.primary === true) as Record<string, unknown> | undefined : undefined
      email = stringOrNull(primary?.email)
      emailVerified = email !== null && primary?.verified === true
    }
    const name = stringOrNull(user.name)
    return { issuer: p.issuer, subject, email, emailVerified, givenName: name, familyName: null }
  }
}
