import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { register, resendVerification, verifyEmail } from '../../src/accounts/registration.js'
import { publicUser } from '../../src/accounts/users.js'
import { BODY, CSRF, EmailSchema, EmailedTokenSchema, LIMITED, MessageSchema, PasswordSchema, UserSchema, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

const Name = Type.String({ minLength: 1, maxLength: 100 })

export const RegisterBodySchema = Type.Object({
  email: EmailSchema,
  password: PasswordSchema,
  username: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
  firstName: Type.Optional(Name),
  lastName: Type.Optional(Name)
}, { additionalProperties: false })

export const VerifyEmailBodySchema = Type.Object({ token: EmailedTokenSchema }, { additionalProperties: false })
export const VerifiedEmailSchema = Type.Object({ message: Type.String(), user: UserSchema }, { $id: 'VerifiedEmail', additionalProperties: false })
export const ResendBodySchema = Type.Object({ email: EmailSchema }, { additionalProperties: false })

const ACCEPTED = 'If the address can be registered, a verification email is on its way.'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/register', {
    schema: {
      operationId: 'register',
      tags: tag('account'),
      summary: 'Create an account; a verification email follows',
      description: 'An address already registered gets the same 202 (and its owner a notice), so the answer tells nothing about which addresses have accounts.',
      security: [],
      body: RegisterBodySchema,
      response: { 202: answer('Accepted: a verification email is on its way if the address can be registered', MessageSchema), ...problems(BODY, CSRF, LIMITED) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit * 2, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    const created = await register(app.accounts, request.body)
    if (created !== null) await app.events.emit({ type: 'user.signed_up', userId: created, ...app.events.origin(request), data: { method: 'password' } })
    return await reply.code(202).send({ message: ACCEPTED })
  })

  app.post('/verify-email', {
    schema: {
      operationId: 'verifyEmail',
      tags: tag('account'),
      summary: 'Confirm an email address with the emailed token',
      description: 'The token is single use.',
      security: [],
      body: VerifyEmailBodySchema,
      response: { 200: answer('The address is verified; the user can sign in', VerifiedEmailSchema), ...problems(BODY, CSRF, 'INVALID_TOKEN') }
    }
  }, async (request) => {
    const user = await verifyEmail(app.accounts, request.body.token)
    await app.events.emit({ type: 'user.email_verified', userId: user.id, ...app.events.origin(request) })
    return { message: 'Email address verified', user: publicUser(user) }
  })

  app.post('/verify-email/resend', {
    schema: {
      operationId: 'resendVerification',
      tags: tag('account'),
      summary: 'Send a new verification email',
      description: 'Answers the same 202 for any address.',
      security: [],
      body: ResendBodySchema,
      response: { 202: answer('Accepted: a new email is on its way if the address belongs to an unverified account', MessageSchema), ...problems(BODY, CSRF, LIMITED) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    await resendVerification(app.accounts, request.body.email)
    return await reply.code(202).send({ message: 'If the address belongs to an unverified account, a new verification email is on its way.' })
  })
}

export default routes
