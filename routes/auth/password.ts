import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { changePassword, requestPasswordReset, resetPassword } from '../../src/accounts/recovery.js'
import { currentKeep, keepCurrent, rotate, signOut } from '../../src/sessions/lifecycle.js'
import { AnyPasswordSchema, BODY, CLEAR_SESSION_COOKIE, CSRF, EmailSchema, EmailedTokenSchema, GUARD, LIMITED, MessageSchema, PasswordSchema, SET_SESSION_COOKIE, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

export const ForgotBodySchema = Type.Object({ email: EmailSchema }, { additionalProperties: false })
export const ResetBodySchema = Type.Object({ token: EmailedTokenSchema, password: PasswordSchema }, { additionalProperties: false })
export const ChangeBodySchema = Type.Object({ currentPassword: AnyPasswordSchema, newPassword: PasswordSchema }, { additionalProperties: false })

export const FORGOT_ACCEPTED = 'If the address belongs to an account, a password reset email is on its way.'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/password/forgot', {
    schema: {
      operationId: 'forgotPassword',
      tags: tag('password'),
      summary: 'Email a password reset link',
      security: [],
      description: 'Answers the same 202 for every address. The link is valid for RESET_TOKEN_TTL seconds (30 minutes), works once, and asking again makes older links useless. Limited per client IP and per target address.',
      body: ForgotBodySchema,
      response: { 202: answer('Accepted: a reset email is on its way if the address belongs to an account', MessageSchema), ...problems(BODY, CSRF, LIMITED) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    await requestPasswordReset(app.recovery, request.body.email)
    return await reply.code(202).send({ message: FORGOT_ACCEPTED })
  })

  app.post('/password/reset', {
    schema: {
      operationId: 'resetPassword',
      tags: tag('password'),
      summary: 'Set a new password with the emailed token',
      security: [],
      description: 'Ends every session of the user and invalidates every reset link. 400 INVALID_TOKEN for an expired, used or unknown token.',
      body: ResetBodySchema,
      response: { 200: answer('The password is set; every session of the user has ended', MessageSchema, CLEAR_SESSION_COOKIE), ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN') }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const user = await resetPassword(app.recovery, request.body.token, request.body.password)
    await app.events.emit({ type: 'password.reset', userId: user.id, ...app.events.origin(request) })
    // The reset ended this request's session too if it was the same user's: expire the cookie.
    if ((request.session as typeof request.session | null)?.userId === user.id) await signOut(app.sessions, request, reply)
    return { message: 'Password reset; sign in with the new password.' }
  })

  app.post('/password/change', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'changePassword',
      tags: tag('password'),
      summary: 'Change the password of the signed-in user',
      description: 'Ends every other session of the user; this session continues under a new id (a new cookie, and a new csrfToken: read it from GET /me).',
      body: ChangeBodySchema,
      response: { 200: answer('Changed; the other sessions have ended and a cookie session has a new id', MessageSchema, SET_SESSION_COOKIE), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS') }
    },
    preHandler: app.limitCredentialChecks
  }, async (request) => {
    await changePassword(app.recovery, request.user!, request.body, currentKeep(request))
    // A cookie session gets a new id; a bearer client keeps its token family. Either one
    // takes the new credential version: it is the one thing that outlives the change.
    if (request.auth?.kind === 'session') await rotate(app.sessions, request)
    await keepCurrent(app.sessions, request)
    await app.events.emit({ type: 'password.changed', userId: request.user!.id, ...app.events.origin(request) })
    return { message: 'Password changed; other sessions were signed out.' }
  })
}

export default routes
