import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkCredentials } from '../../src/accounts/registration.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { publicUser } from '../../src/accounts/users.js'
import { csrfToken, currentExpiry, logout, signIn } from '../../src/sessions/lifecycle.js'
import { loginOutcome } from '../../plugins/metrics.js'
import { AnyPasswordSchema, BODY, CLEAR_SESSION_COOKIE, CSRF, GUARD, LIMITED, SET_SESSION_COOKIE, SessionSummarySchema, UserSchema, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

const Identifier = Type.String({ minLength: 1, maxLength: 254 })

export const LoginBodySchema = Type.Object({
  email: Type.Optional(Identifier),
  username: Type.Optional(Identifier),
  password: AnyPasswordSchema,
  totpCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' }))
}, {
  additionalProperties: false,
  // JSON Schema could say "one of" with anyOf, but the 400 for a body without either comes
  // from the domain code, with the same wording for both fields.
  description: 'One of `email` and `username` is required (each may hold an email address or a username). `totpCode`: with 2FA on, sign in in one step instead of answering a challenge.'
})

export const LoginSuccessSchema = Type.Object({
  message: Type.Literal('Login successful'),
  user: UserSchema,
  session: SessionSummarySchema,
  csrfToken: Type.String({ description: 'send it back in `X-CSRF-Token` on state-changing requests (required when the cookie is `SameSite=None`)' })
}, { $id: 'LoginSuccess', additionalProperties: false, description: 'Signed in: the session cookie is set.' })

export const MfaChallengeSchema = Type.Object({
  mfaRequired: Type.Literal(true),
  mfaToken: Type.String({ description: 'answer it at POST /mfa/verify (a code) or POST /passkeys/mfa/verify (a passkey)' }),
  mfaMethods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('backup_code'), Type.Literal('passkey')]), { description: '`passkey` when the account has one' }),
  expiresIn: Type.Integer({ description: 'seconds' })
}, { $id: 'MfaChallenge', additionalProperties: false, description: 'The password is right and 2FA is on: no session yet; answer at POST /mfa/verify.' })

export const LogoutBodySchema = Type.Object({
  refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'a bearer client\'s refresh token (live or spent): its whole family ends' }))
}, { additionalProperties: false })

export const LoginAnswerSchema = Type.Union([LoginSuccessSchema, MfaChallengeSchema])

export const MeSchema = Type.Object({
  user: UserSchema,
  session: SessionSummarySchema,
  csrfToken: Type.String({ description: 'send it back in `X-CSRF-Token` on state-changing requests (required when the cookie is `SameSite=None`)' })
}, { $id: 'Me', additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/login', {
    schema: {
      operationId: 'login',
      tags: tag('session'),
      summary: 'Sign in and receive the session cookie',
      description: 'With 2FA on and no `totpCode`, the answer is an MfaChallenge and no cookie is set. 403 codes come only once the password is right.',
      security: [],
      body: LoginBodySchema,
      response: {
        200: answer('Signed in (LoginSuccess, with the cookie), or a 2FA challenge (MfaChallenge, no cookie)', LoginAnswerSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_CREDENTIALS', 'INVALID_MFA_CODE', 'EMAIL_NOT_VERIFIED', 'ACCOUNT_DISABLED')
      }
    },
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    // Per-account back-off: one budget per account (by user id; an unknown identifier by
    // itself), a known device's attempts on a budget of their own.
    const user = await app.loginThrottle.guard(request.body.email ?? request.body.username, async (accountId) => await checkCredentials(app.accounts, request.body, accountId), app.devices.reader(request), u => !u.mfaEnabled, app.failedSignIn(request, 'password')).catch((err: unknown) => {
      app.metrics.countLogin(loginOutcome(err))
      throw err
    })
    const challenge = await loginStep(app.mfa, user, request.body.totpCode).catch((err: unknown) => {
      app.metrics.countLogin(loginOutcome(err))
      throw err
    })
    if (challenge !== null) {
      app.metrics.countLogin('mfa_required')
      return challenge
    }
    const signedIn = await signIn(app.sessions, request, user)
    await app.devices.signedIn(request, reply, user.id, { method: 'password', kind: 'cookie', mfa: user.mfaEnabled })
    app.metrics.countLogin('success')
    request.log.info({ userId: user.id }, 'login')
    return { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: signedIn.expiresAt.toISOString() }, csrfToken: signedIn.csrfToken }
  })

  app.get('/me', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'me',
      tags: tag('session'),
      summary: 'The signed-in user and the session expiry',
      response: {
        200: answer('The signed-in user, the session expiry and the CSRF token', MeSchema),
        ...problems(GUARD)
      }
    }
  }, async (request) => {
    return {
      user: publicUser(request.user!),
      // With a bearer token, the expiry reported is the access token's.
      session: { expiresAt: currentExpiry(app.sessions, request).toISOString() },
      csrfToken: csrfToken(app.sessions, request)
    }
  })

  app.post('/logout', {
    schema: {
      operationId: 'logout',
      tags: tag('session'),
      summary: 'End this session, or with a bearer token its token family (idempotent)',
      description: 'Answers 204 without credentials too, so a client can always call it. A bearer client sends its `refreshToken` in the body: ' +
        'that ends the family even when the access token has expired (an expired access token alone names nothing), as OAuth token revocation (RFC 7009) does.',
      // Optional credentials: the empty requirement says that none is fine too.
      security: [{ cookie: [] }, { bearer: [] }, {}],
      body: Type.Optional(LogoutBodySchema),
      response: {
        204: noContent('Signed out (or already signed out)', CLEAR_SESSION_COOKIE),
        ...problems(BODY, CSRF)
      }
    }
  }, async (request, reply) => {
    const ended = await logout(app.sessions, request, reply, request.body?.refreshToken)
    if (ended !== null) await app.events.emit({ type: 'session.signed_out', userId: ended.userId, ...app.events.origin(request), data: { kind: ended.kind } })
    return await reply.code(204).send(null)
  })
}

export default routes
