import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkCredentials } from '../../src/accounts/registration.js'
import { errors } from '../../src/http/schemas.js'
import { LoginBodySchema, MfaChallengeSchema } from './session.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { issueTokens, refreshTokens } from '../../src/tokens/lifecycle.js'

export const TokenGrantSchema = Type.Object({
  accessToken: Type.String({ description: 'send as `Authorization: Bearer <accessToken>`' }),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds until the access token expires' }),
  expiresAt: Type.String({ format: 'date-time' }),
  refreshToken: Type.String({ description: 'single use: POST /token/refresh answers with a new one' })
}, { additionalProperties: false })

const RefreshBodySchema = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/token', {
    schema: {
      tags: ['tokens'],
      summary: 'Sign in and receive a bearer access token and a refresh token (for clients without cookies)',
      body: LoginBodySchema,
      response: { 200: Type.Union([TokenGrantSchema, MfaChallengeSchema]), ...errors(401, 403, 413, 429) }
    },
    // The same limit as /login (its own count per client IP).
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request) => {
    const user = await app.loginThrottle.guard(request.body.email ?? request.body.username, async () => await checkCredentials(app.accounts, request.body))
    // With 2FA on: the inline totpCode, or a challenge whose /mfa/verify answers with tokens.
    const challenge = await loginStep(app.mfa, user, request.body.totpCode, 'token')
    if (challenge !== null) return challenge
    return await issueTokens(app.sessions, request, user)
  })

  app.post('/token/refresh', {
    schema: {
      tags: ['tokens'],
      summary: 'Spend a refresh token for a new access and refresh token',
      description: 'The refresh token is single use. Presenting a spent one ends its whole family: every access and refresh token of that login.',
      body: RefreshBodySchema,
      response: { 200: TokenGrantSchema, ...errors(401, 413, 429) }
    },
    config: { rateLimit: { max: app.config.loginRateLimit * 6, timeWindow: 60_000 } }
  }, async (request) => {
    return await refreshTokens(app.sessions, request, request.body.refreshToken)
  })
}

export default routes
