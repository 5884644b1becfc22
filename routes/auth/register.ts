import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { register, resendVerification, verifyEmail } from '../../src/accounts/registration.js'
import { publicUser } from '../../src/accounts/users.js'
import { EmailSchema, EmailedTokenSchema, MessageSchema, PasswordSchema, UserSchema, errors } from '../../src/http/schemas.js'

const Name = Type.String({ minLength: 1, maxLength: 100 })

const RegisterBodySchema = Type.Object({
  email: EmailSchema,
  password: PasswordSchema,
  username: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
  firstName: Type.Optional(Name),
  lastName: Type.Optional(Name)
}, { additionalProperties: false })

const ACCEPTED = 'If the address can be registered, a verification email is on its way.'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/register', {
    schema: {
      tags: ['account'],
      summary: 'Create an account; a verification email follows',
      body: RegisterBodySchema,
      response: { 202: MessageSchema, ...errors(413, 429) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit * 2, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    await register(app.accounts, request.body)
    return await reply.code(202).send({ message: ACCEPTED })
  })

  app.post('/verify-email', {
    schema: {
      tags: ['account'],
      summary: 'Confirm an email address with the emailed token',
      body: Type.Object({ token: EmailedTokenSchema }, { additionalProperties: false }),
      response: { 200: Type.Object({ message: Type.String(), user: UserSchema }, { additionalProperties: false }), ...errors(413) }
    }
  }, async (request) => {
    const user = await verifyEmail(app.accounts, request.body.token)
    return { message: 'Email address verified', user: publicUser(user) }
  })

  app.post('/verify-email/resend', {
    schema: {
      tags: ['account'],
      summary: 'Send a new verification email',
      body: Type.Object({ email: EmailSchema }, { additionalProperties: false }),
      response: { 202: MessageSchema, ...errors(413, 429) }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit, timeWindow: 60_000 } },
    preHandler: app.limitMailPerAddress
  }, async (request, reply) => {
    await resendVerification(app.accounts, request.body.email)
    return await reply.code(202).send({ message: 'If the address belongs to an unverified account, a new verification email is on its way.' })
  })
}

export default routes
