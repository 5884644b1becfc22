import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkCredentials } from '../../src/accounts/registration.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { publicUser } from '../../src/accounts/users.js'
import { csrfToken, currentExpiry, logout, signIn } from '../../src/sessions/lifecycle.js'
import { loginOutcome } from '../../plugins/metrics.js'
import { AnyPasswordSchema, ProblemSchema, SessionSummarySchema, UserSchema, errors } from '../../src/http/schemas.js'

const Identifier = Type.String({ minLength: 1, maxLength: 254 })

export const LoginBodySchema = Type.Object({
  email: Type.Optional(Identifier),
  username: Type.Optional(Identifier),
  password: AnyPasswordSchema,
  totpCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' }))
}, { additionalProperties: false, description: 'Either `email` or `username` (each may hold an email address or a username).' })

export const LoginSuccessSchema = Type.Object({
  message: Type.Literal('Login successful'),
  user: UserSchema,
  session: SessionSummarySchema,
  csrfToken: Type.String()
}, { additionalProperties: false })

export const MfaChallengeSchema = Type.Object({
  mfaRequired: Type.Literal(true),
  mfaToken: Type.String({ description: 'answer it at POST /mfa/verify' }),
  mfaMethods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('backup_code')])),
  expiresIn: Type.Integer({ description: 'seconds' })
}, { additionalProperties: false, description: 'The password is right and 2FA is on: no session yet.' })

const MeSchema = Type.Object({ user: UserSchema, session: SessionSummarySchema, csrfToken: Type.String() }, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/login', {
    schema: {
      tags: ['session'],
      summary: 'Sign in and receive the session cookie',
      body: LoginBodySchema,
      response: { 200: Type.Union([LoginSuccessSchema, MfaChallengeSchema]), ...errors(401, 403, 413, 429) }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request) => {
    // Per-account back-off, keyed by the identifier as typed (normalised), known or not.
    const user = await app.loginThrottle.guard(request.body.email ?? request.body.username, async () => await checkCredentials(app.accounts, request.body)).catch((err: unknown) => {
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
    app.metrics.countLogin('success')
    request.log.info({ userId: user.id }, 'login')
    return { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: signedIn.expiresAt.toISOString() }, csrfToken: signedIn.csrfToken }
  })

  app.get('/me', {
    onRequest: app.authenticate,
    schema: {
      tags: ['session'],
      summary: 'The signed-in user and the session expiry',
      response: { 200: MeSchema, 401: ProblemSchema, 503: ProblemSchema }
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
      tags: ['session'],
      summary: 'End this session, or with a bearer token its token family (idempotent)',
      response: { 204: Type.Null(), 403: ProblemSchema, 503: ProblemSchema }
    }
  }, async (request, reply) => {
    await logout(app.sessions, request, reply)
    return await reply.code(204).send(null)
  })
}

export default routes
