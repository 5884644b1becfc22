import * as oidc from 'openid-client'
import { digest, safeEqual } from '../crypto/secrets.js'
import type { OAuthAccountDeps } from './accounts.js'
import { OAuthError, classify, type OAuthClients, type ProviderProfile } from './client.js'
import type { FlowState, FlowStore, HandoffStore } from './flow.js'
import type { ProviderSpec } from './providers.js'

export interface OAuthDeps extends OAuthAccountDeps {
  providers: ReadonlyMap<string, ProviderSpec>
  clients: OAuthClients
  flows: FlowStore
  handoffs: HandoffStore
  /** the public origin of this server: the callback lives there */
  redirectOrigin: string
  /** APP_ORIGIN and CORS_ORIGINS, canonical: where returnTo may point */
  allowedOrigins: ReadonlySet<string>
}

export function callbackUrl (deps: Pick<OAuthDeps, 'redirectOrigin'>, providerId: string): string {
  return `${deps.redirectOrigin}/api/auth/oauth/${providerId}/callback`
}

/**
 * `returnTo` as an absolute URL, or null when it is refused. A path is taken on APP_ORIGIN;
 * an absolute URL only on an allowed origin. Backslashes and control characters are refused
 * outright: browsers read `/\evil.example` and `/\t/evil.example` as another host.
 */
export function parseReturnTo (raw: string | undefined, appOrigin: string, allowed: ReadonlySet<string>): string | null {
  if (raw === undefined || raw === '') return `${appOrigin}/`
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return null
  let url: URL
  try {
    if (raw.startsWith('/')) {
      if (raw.startsWith('//')) return null
      url = new URL(raw, appOrigin)
      if (url.origin !== appOrigin) return null
    } else {
      url = new URL(raw)
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
      if (!allowed.has(url.origin) || url.username !== '' || url.password !== '') return null
    }
  } catch {
    return null
  }
  url.hash = ''
  return url.href
}

/** returnTo with `?error=CODE` (the page shows it; the code is all it learns). */
export function withError (returnTo: string, code: string): string {
  const url = new URL(returnTo)
  url.searchParams.set('error', code)
  return url.href
}

/** returnTo with `#mfaToken=...`: a fragment never reaches a server or a Referer header. */
export function withMfaToken (returnTo: string, mfaToken: string): string {
  return withFragment(returnTo, 'mfaToken', mfaToken)
}

export function withFragment (returnTo: string, name: string, value: string): string {
  const url = new URL(returnTo)
  url.hash = `${name}=${encodeURIComponent(value)}`
  return url.href
}

/** True when returnTo is a page on another origin than this server's: it gets a handoff token, not a cookie. */
export function needsHandoff (deps: Pick<OAuthDeps, 'redirectOrigin'>, returnTo: string): boolean {
  return new URL(returnTo).origin !== deps.redirectOrigin
}

export function provider (deps: Pick<OAuthDeps, 'providers'>, id: string): ProviderSpec | undefined {
  return deps.providers.get(id)
}

/**
 * Begins a flow: the provider's authorization URL, with the flow saved in Redis only once
 * that URL could be built (an unreachable provider leaves nothing behind). `browserKey` is
 * the value of the browser's binding cookie.
 */
export async function beginFlow (deps: OAuthDeps, p: ProviderSpec, input: { returnTo: string, browserKey: string, linkUserId?: string }): Promise<URL> {
  const flow: FlowState = {
    provider: p.id,
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    codeVerifier: oidc.randomPKCECodeVerifier(),
    returnTo: input.returnTo,
    binding: digest(input.browserKey),
    ...(input.linkUserId === undefined ? {} : { linkUserId: input.linkUserId })
  }
  const url = await deps.clients.authorizationUrl(p, { ...flow, redirectUri: callbackUrl(deps, p.id) })
  await deps.flows.save(flow)
  return url
}

/**
 * The callback's checks before any account is touched: the flow of this `state` exists
 * (not used, not expired), began in this browser and for this provider; then the code is
 * redeemed and the tokens validated. The flow is spent whatever the outcome.
 */
export async function completeFlow (deps: OAuthDeps, p: ProviderSpec, query: URLSearchParams, browserKey: string | undefined): Promise<{ flow: FlowState, profile: ProviderProfile }> {
  const state = query.get('state')
  if (state === null || state.length > 512) throw new OAuthError('OAUTH_STATE_INVALID', 'no state')
  const flow = await deps.flows.take(state)
  if (flow === null) throw new OAuthError('OAUTH_STATE_INVALID', 'unknown, used or expired state')
  try {
    if (browserKey === undefined || !safeEqual(digest(browserKey), flow.binding)) {
      throw new OAuthError('OAUTH_STATE_INVALID', 'flow began in another browser')
    }
    if (flow.provider !== p.id) throw new OAuthError('OAUTH_STATE_INVALID', 'flow of another provider')
    // Never redeem a code without the PKCE proof, whatever the flow record says.
    if (typeof flow.codeVerifier !== 'string' || flow.codeVerifier.length < 43) throw new OAuthError('OAUTH_STATE_INVALID', 'flow without a PKCE verifier')
    const current = new URL(callbackUrl(deps, p.id))
    current.search = query.toString()
    const profile = await deps.clients.finish(p, current, { ...flow, redirectUri: callbackUrl(deps, p.id) })
    return { flow, profile }
  } catch (err) {
    const e = classify(err)
    e.returnTo = flow.returnTo
    throw e
  }
}
