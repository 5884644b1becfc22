import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { randomToken } from '../../src/crypto/secrets.js'
import { AuthError, validationError } from '../../src/http/errors.js'
import { BODY, CSRF, EmailedTokenSchema, GUARD, LIMITED, SET_SESSION_COOKIE, answer, noContent, problems, type HeaderDoc } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { signIn } from '../../src/sessions/lifecycle.js'
import { accountForIdentity, linkIdentity } from '../../src/oauth/accounts.js'
import { OAuthError, classify, reasonOf } from '../../src/oauth/client.js'
import { isRedisUnavailable } from '../../src/redis/client.js'
import { beginFlow, completeFlow, needsHandoff, parseReturnTo, provider, withError, withFragment, withMfaToken } from '../../src/oauth/sign-in.js'
import { publicUser } from '../../src/accounts/users.js'
import { LoginSuccessSchema } from './session.js'

export const FLOW_COOKIE = 'oauthFlow'
const FLOW_COOKIE_PATH = '/api/auth/oauth'
const BROWSER_KEY_RE = /^[A-Za-z0-9_-]{43}$/

const ProviderParamsSchema = Type.Object({ provider: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', maxLength: 32 }) }, { additionalProperties: false })
const ReturnToSchema = Type.String({ minLength: 1, maxLength: 2048, description: 'a path on APP_ORIGIN, or a URL on APP_ORIGIN or a CORS_ORIGINS origin' })

export const OAuthProviderSchema = Type.Object({
  id: Type.String({ description: 'the `:provider` of the other oauth routes' }),
  name: Type.String({ description: 'for the button: `Sign in with <name>`' })
}, { $id: 'OAuthProvider', additionalProperties: false })

export const OAuthProviderListSchema = Type.Object({
  providers: Type.Array(OAuthProviderSchema)
}, { $id: 'OAuthProviderList', additionalProperties: false })

export const OAuthLinkStartSchema = Type.Object({
  url: Type.String({ description: 'the provider\'s authorization URL: send the browser there (a top-level navigation)' })
}, { $id: 'OAuthLinkStart', additionalProperties: false })

export const OAuthLinkBodySchema = Type.Object({ returnTo: Type.Optional(ReturnToSchema) }, { additionalProperties: false })
export const OAuthCompleteBodySchema = Type.Object({
  signInToken: { ...EmailedTokenSchema, description: 'from the `#signInToken=` fragment of the return from the provider' }
}, { additionalProperties: false })

const locationHeader = (where: string): Record<string, HeaderDoc> => ({ Location: { type: 'string', description: where } })
const FLOW_COOKIE_HEADER: HeaderDoc = { type: 'string', description: '`oauthFlow=<random key>; Max-Age=<OAUTH_FLOW_TTL, 600>; Path=/api/auth/oauth; HttpOnly; SameSite=Lax` (with `Secure` in production): binds the flow to this browser, and survives the cross-site return from the provider.' }

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = app.oauth
  const secure = app.config.secureCookies

  /*
   * The browser's binding cookie: a flow finishes only where it began, so a callback URL
   * that an attacker got the victim to open (login CSRF, a leaked link) leads nowhere.
   * SameSite=Lax, because the return from the provider is a cross-site top-level GET.
   * One key serves every flow of the browser, so two tabs can sign in at once.
   */
  function browserKey (request: FastifyRequest, reply: FastifyReply): string {
    const existing = request.cookies[FLOW_COOKIE]
    const key = existing !== undefined && BROWSER_KEY_RE.test(existing) ? existing : randomToken(32)
    reply.setCookie(FLOW_COOKIE, key, { httpOnly: true, secure, sameSite: 'lax', path: FLOW_COOKIE_PATH, maxAge: Math.round(deps.flows.ttlMs / 1000) })
    return key
  }

  function providerOr404 (id: string) {
    const p = provider(deps, id)
    if (p === undefined) throw new AuthError('NOT_FOUND', 'No such identity provider.')
    return p
  }

  app.get('/oauth/providers', {
    schema: {
      operationId: 'listOAuthProviders',
      tags: tag('oauth'),
      summary: 'The configured identity providers, for sign-in buttons',
      security: [],
      response: { 200: answer('The configured providers (none when OAUTH_PROVIDERS is empty)', OAuthProviderListSchema), ...problems() }
    }
  }, async () => ({ providers: [...deps.providers.values()].map(p => ({ id: p.id, name: p.name })) }))

  app.get('/oauth/:provider/start', {
    schema: {
      operationId: 'startOAuth',
      tags: tag('oauth'),
      summary: 'Send the browser to the identity provider',
      description: 'A page navigates here (it is not a fetch). Redirects (302) to the provider. When the provider cannot be reached, redirects to `returnTo?error=OAUTH_PROVIDER_UNAVAILABLE` and stores nothing. A `returnTo` on a foreign origin is refused with 400.',
      security: [],
      params: ProviderParamsSchema,
      querystring: Type.Object({ returnTo: Type.Optional(ReturnToSchema) }, { additionalProperties: false }),
      response: {
        302: noContent('To the provider\'s authorization endpoint, or back to `returnTo?error=CODE`', {
          ...locationHeader('the provider\'s authorization URL (with state, nonce and the PKCE challenge), or `returnTo?error=OAUTH_PROVIDER_UNAVAILABLE`'),
          'Set-Cookie': FLOW_COOKIE_HEADER
        }),
        ...problems(LIMITED, 'VALIDATION_FAILED', 'NOT_FOUND')
      }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const p = providerOr404(request.params.provider)
    const returnTo = parseReturnTo(request.query.returnTo, deps.appOrigin, deps.allowedOrigins)
    if (returnTo === null) throw validationError('returnTo', 'must be a path, or a URL on this application\'s origins')
    try {
      const url = await beginFlow(deps, p, { returnTo, browserKey: browserKey(request, reply) })
      return await reply.redirect(url.href, 302)
    } catch (err) {
      const e = classify(err)
      request.log.warn({ provider: p.id, code: e.code, reason: reasonOf(e) }, 'oauth start failed')
      return await reply.redirect(withError(returnTo, e.code), 302)
    }
  })

  app.get('/oauth/:provider/callback', {
    schema: {
      operationId: 'oauthCallback',
      tags: tag('oauth'),
      summary: 'Where the provider sends the browser back',
      security: [],
      description: 'Signs in (session cookie) and redirects to `returnTo`; when `returnTo` is a page on another origin (an SPA), sets no cookie and redirects to `returnTo#signInToken=...`, which the page redeems at POST /oauth/complete; with 2FA on, sets no session and redirects to `returnTo#mfaToken=...` (answer it at /mfa/verify). A link flow links the identity and redirects to `returnTo?linked=<provider>`. Failures redirect to `returnTo?error=CODE`.',
      params: ProviderParamsSchema,
      // Providers add parameters of their own (scope, authuser, session_state, ...).
      querystring: Type.Object({
        code: Type.Optional(Type.String({ maxLength: 4096 })),
        state: Type.Optional(Type.String({ maxLength: 512 })),
        iss: Type.Optional(Type.String({ maxLength: 512 })),
        error: Type.Optional(Type.String({ maxLength: 256 }))
      }, { additionalProperties: true }),
      response: {
        302: noContent('Back to `returnTo`: signed in, with a 2FA challenge or a sign-in token in the fragment, linked, or with `?error=CODE`', {
          ...locationHeader('`returnTo`, `returnTo#mfaToken=...`, `returnTo#signInToken=...`, `returnTo?linked=<provider>` or `returnTo?error=CODE`'),
          'Set-Cookie': { type: 'string', description: `When signed in on this origin: ${SET_SESSION_COOKIE['Set-Cookie'].description}` }
        }),
        ...problems(LIMITED, 'VALIDATION_FAILED', 'NOT_FOUND')
      }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const p = providerOr404(request.params.provider)
    const query = new URLSearchParams(request.url.split('?')[1] ?? '')
    let returnTo = `${deps.appOrigin}/`
    try {
      const { flow, profile } = await completeFlow(deps, p, query, request.cookies[FLOW_COOKIE])
      returnTo = flow.returnTo
      if (flow.linkUserId !== undefined) {
        const user = await deps.users.findById(flow.linkUserId)
        if (user === null) throw new AuthError('UNAUTHENTICATED')
        await linkIdentity(deps, user, p, profile)
        await app.events.emit({ type: 'identity.linked', userId: user.id, ...app.events.origin(request), data: { provider: p.id } })
        const url = new URL(returnTo)
        url.searchParams.set('linked', p.id)
        return await reply.redirect(url.href, 302)
      }
      const user = await accountForIdentity(deps, p, profile)
      // The same steps as a password login from here: 2FA, then a new session.
      const challenge = await loginStep(app.mfa, user, undefined, 'session', 'provider')
      if (challenge !== null) return await reply.redirect(withMfaToken(returnTo, challenge.mfaToken), 302)
      if (needsHandoff(deps, returnTo)) {
        return await reply.redirect(withFragment(returnTo, 'signInToken', await deps.handoffs.issue(user.id)), 302)
      }
      await signIn(app.sessions, request, user, 'provider')
      await app.devices.signedIn(request, reply, user.id, { method: 'provider', kind: 'cookie', provider: p.id })
      request.log.info({ userId: user.id, provider: p.id }, 'login')
      return await reply.redirect(returnTo, 302)
    } catch (err) {
      // Redis down: the usual 503, not a redirect that looks like a refusal.
      if (isRedisUnavailable(err)) throw err
      const e = err instanceof AuthError ? new OAuthError(err.code === 'ACCOUNT_DISABLED' ? 'ACCOUNT_DISABLED' : 'OAUTH_FAILED', err.message) : classify(err)
      request.log.warn({ provider: p.id, code: e.code, reason: reasonOf(e) }, 'oauth callback failed')
      return await reply.redirect(withError(e.returnTo ?? returnTo, e.code), 302)
    }
  })

  app.post('/oauth/complete', {
    schema: {
      operationId: 'completeOAuth',
      tags: tag('oauth'),
      summary: 'Redeem the sign-in token a provider sign-in handed to a page on another origin',
      description: 'Answers as a successful /login, with the session cookie. The token from `#signInToken=` works once, for 60 seconds.',
      security: [],
      body: OAuthCompleteBodySchema,
      response: {
        200: answer('Signed in, with the session cookie', LoginSuccessSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'ACCOUNT_DISABLED')
      }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const userId = await deps.handoffs.take(request.body.signInToken)
    const user = userId === null ? null : await deps.users.findById(userId)
    if (user === null) throw new AuthError('INVALID_TOKEN', 'This sign-in token is expired, used or unknown; sign in again.')
    if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'This account has been disabled.')
    const { expiresAt, csrfToken } = await signIn(app.sessions, request, user, 'provider')
    await app.devices.signedIn(request, reply, user.id, { method: 'provider', kind: 'cookie' })
    request.log.info({ userId: user.id }, 'login')
    return { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: expiresAt.toISOString() }, csrfToken }
  })

  app.post('/oauth/:provider/link', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'linkOAuthIdentity',
      tags: tag('oauth'),
      summary: 'Begin linking an identity to the signed-in account',
      description: 'Answers the provider URL to send the browser to; the same callback then links the identity, redirects to `returnTo?linked=<provider>` and mails the account\'s address. 503 when the provider cannot be reached.',
      params: ProviderParamsSchema,
      body: Type.Optional(OAuthLinkBodySchema),
      response: {
        200: answer('The provider URL to send the browser to', OAuthLinkStartSchema, { 'Set-Cookie': FLOW_COOKIE_HEADER }),
        ...problems(BODY, CSRF, GUARD, 'NOT_FOUND')
      }
    }
  }, async (request, reply) => {
    const p = providerOr404(request.params.provider)
    const returnTo = parseReturnTo(request.body?.returnTo, deps.appOrigin, deps.allowedOrigins)
    if (returnTo === null) throw validationError('returnTo', 'must be a path, or a URL on this application\'s origins')
    try {
      const url = await beginFlow(deps, p, { returnTo, browserKey: browserKey(request, reply), linkUserId: request.user!.id })
      return { url: url.href }
    } catch (err) {
      const e = classify(err)
      request.log.warn({ provider: p.id, code: e.code, reason: reasonOf(e) }, 'oauth link start failed')
      throw new AuthError('SERVICE_UNAVAILABLE', 'The identity provider cannot be reached; try again later.')
    }
  })
}

export default routes
