import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkEmailCode, checkEmailLink, requestEmailCode } from '../../src/email-code/sign-in.js'
import { loginStep } from '../../src/mfa/challenges.js'
import { publicUser, type User } from '../../src/accounts/users.js'
import { signIn } from '../../src/sessions/lifecycle.js'
import { issueTokens } from '../../src/tokens/lifecycle.js'
import { AuthError } from '../../src/http/errors.js'
import { loginOutcome } from '../../plugins/metrics.js'
import { BODY, CSRF, EmailSchema, EmailedTokenSchema, LIMITED, MessageSchema, SET_SESSION_COOKIE, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { LoginSuccessSchema, MfaChallengeSchema } from './session.js'
import { TokenGrantSchema } from './token.js'

export const EmailCodeRequestBodySchema = Type.Object({ email: EmailSchema }, { additionalProperties: false })

export const EmailCodeVerifyBodySchema = Type.Object({
  email: Type.Optional(EmailSchema),
  code: Type.Optional(Type.String({ pattern: '^[0-9]{3}[ -]?[0-9]{3}$', description: 'the 6-digit code of the mail ("123456" or "123 456")' })),
  token: Type.Optional({ ...EmailedTokenSchema, description: 'the `token` of the mailed link `APP_ORIGIN/sign-in?token=...`' }),
  grant: Type.Optional(Type.Union([Type.Literal('session'), Type.Literal('token')], { description: '`token`: answer as POST /token (bearer tokens, no cookie) instead of as /login' }))
}, {
  additionalProperties: false,
  description: 'Either `email` and `code`, or `token` (the mailed link). With `grant: "token"` the answer is that of POST /token.'
})

export const EmailCodeVerifyAnswerSchema = Type.Union([LoginSuccessSchema, TokenGrantSchema, MfaChallengeSchema])

export const EMAIL_CODE_ACCEPTED = 'If the address belongs to an account, a sign-in code is on its way.'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/email-code/request', {
    schema: {
      operationId: 'requestEmailCode',
      tags: tag('session'),
      summary: 'Email a sign-in code and link (sign in without a password)',
      security: [],
      description: 'Answers the same 202 for every address. Only a verified, enabled account is mailed: a 6-digit code and a link `APP_ORIGIN/sign-in?token=...`, both valid EMAIL_CODE_TTL seconds (10 minutes), once; asking again makes the earlier ones useless. Limited per client IP and per target address (a budget of its own, apart from verification and reset mails).',
      body: EmailCodeRequestBodySchema,
      response: { 202: answer('Accepted: a sign-in code is on its way if the address belongs to an account', MessageSchema), ...problems(BODY, CSRF, LIMITED) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    await requestEmailCode(app.emailCode, request.body.email)
    return await reply.code(202).send({ message: EMAIL_CODE_ACCEPTED })
  })

  app.post('/email-code/verify', {
    schema: {
      operationId: 'verifyEmailCode',
      tags: tag('session'),
      summary: 'Sign in with the emailed code (with the address) or the emailed link\'s token',
      security: [],
      description: 'Answers as a successful /login (LoginSuccess and the session cookie), or with `grant: "token"` as /token; with 2FA on, an MfaChallenge to answer at /mfa/verify. A wrong, expired or used code answers 401 INVALID_CREDENTIALS for any address; five wrong codes end the code (the link still works). An expired, used or replaced link answers 400 INVALID_TOKEN.',
      body: EmailCodeVerifyBodySchema,
      response: {
        200: answer('Signed in (LoginSuccess with the cookie, or TokenGrant), or a 2FA challenge (MfaChallenge, no cookie)', EmailCodeVerifyAnswerSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'INVALID_CREDENTIALS', 'ACCOUNT_DISABLED')
      }
    },
    // A code is a secret like a password: one per-client count with /login, /token and /mfa/verify.
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    const { email, code, token, grant = 'session' } = request.body
    const byCode = email !== undefined && code !== undefined && token === undefined
    if (!byCode && (token === undefined || email !== undefined || code !== undefined)) {
      const message = 'give either email and code, or token'
      throw new AuthError('VALIDATION_FAILED', message, { fieldErrors: {}, formErrors: [message] })
    }
    // The code goes through the account's back-off like a password (a known device on its
    // own budget); the link (256 bits) cannot be guessed, so it is never held back by it.
    const check = byCode
      ? app.loginThrottle.guard(email, async () => await checkEmailCode(app.emailCode, email, code), app.devices.reader(request), (u: User) => !u.mfaEnabled, app.failedSignIn(request, 'email_code'))
      : checkEmailLink(app.emailCode, token!)
    const user = await check.catch((err: unknown) => {
      app.metrics.countLogin(loginOutcome(err))
      throw err
    })
    const challenge = await loginStep(app.mfa, user, undefined, grant, 'email_code')
    if (challenge !== null) {
      app.metrics.countLogin('mfa_required')
      return challenge
    }
    // Following the link proved the mailbox, as a right code does: the back-off is over.
    if (!byCode) await app.loginThrottle.reset(user.id)
    let answered
    if (grant === 'token') {
      answered = await issueTokens(app.sessions, request, user, 'email_code')
    } else {
      const signedIn = await signIn(app.sessions, request, user, 'email_code')
      answered = { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: signedIn.expiresAt.toISOString() }, csrfToken: signedIn.csrfToken }
    }
    // The device cookie (a cookie sign-in), and the session.signed_in event.
    await app.devices.signedIn(request, reply, user.id, { method: 'email_code', kind: grant === 'token' ? 'token' : 'cookie' })
    app.metrics.countLogin('success')
    request.log.info({ userId: user.id }, 'login (emailed code)')
    return answered
  })
}

export default routes
