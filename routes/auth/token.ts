import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkCredentials } from '../../src/accounts/registration.js'
import { BODY, CSRF, LIMITED, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { LoginBodySchema, MfaChallengeSchema } from './session.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { issueTokens, refreshTokens } from '../../src/tokens/lifecycle.js'

export const TokenGrantSchema = Type.Object({
  accessToken: Type.String({ description: 'send as `Authorization: Bearer <accessToken>`' }),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds until the access token expires' }),
  expiresAt: Type.String({ format: 'date-time' }),
  refreshToken: Type.String({ description: 'single use: POST /token/refresh answers with a new one' })
}, { $id: 'TokenGrant', additionalProperties: false, description: 'Signed in as a bearer client.' })

export const TokenAnswerSchema = Type.Union([TokenGrantSchema, MfaChallengeSchema])

export const RefreshBodySchema = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/token', {
    schema: {
      operationId: 'createToken',
      tags: tag('tokens'),
      summary: 'Sign in and receive a bearer access token and a refresh token (for clients without cookies)',
      description: 'The body is that of /login. With 2FA on and no `totpCode`, the answer is an MfaChallenge whose /mfa/verify answers with the tokens.',
      security: [],
      body: LoginBodySchema,
      response: {
        200: answer('Signed in (TokenGrant), or a 2FA challenge (MfaChallenge)', TokenAnswerSchema),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_CREDENTIALS', 'INVALID_MFA_CODE', 'EMAIL_NOT_VERIFIED', 'ACCOUNT_DISABLED')
      }
    },
    // The same limit as /login (its own count per client IP).
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    const user = await app.loginThrottle.guard(request.body.email ?? request.body.username, async (accountId) => await checkCredentials(app.accounts, request.body, accountId), app.devices.reader(request), u => !u.mfaEnabled, app.failedSignIn(request, 'password'))
    // With 2FA on: the inline totpCode, or a challenge whose /mfa/verify answers with tokens.
    const challenge = await loginStep(app.mfa, user, request.body.totpCode, 'token')
    if (challenge !== null) return challenge
    const tokens = await issueTokens(app.sessions, request, user)
    await app.devices.signedIn(request, reply, user.id, { method: 'password', kind: 'token', mfa: user.mfaEnabled })
    return tokens
  })

  app.post('/token/refresh', {
    schema: {
      operationId: 'refreshToken',
      tags: tag('tokens'),
      summary: 'Spend a refresh token for a new access and refresh token',
      security: [],
      description: 'The refresh token is single use. Presenting a spent one ends its whole family: every access and refresh token of that login.',
      body: RefreshBodySchema,
      response: { 200: answer('A new access token and refresh token; the one sent is spent', TokenGrantSchema), ...problems(BODY, CSRF, LIMITED, 'UNAUTHENTICATED') }
    },
    config: { rateLimit: { max: app.config.loginRateLimit * 6, timeWindow: 60_000 } }
  }, async (request) => {
    return await refreshTokens(app.sessions, request, request.body.refreshToken)
  })
}

export default routes
