import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../src/accounts/users.js'
import { updateProfile } from '../../src/accounts/profile.js'
import { cancelEmailChange, confirmEmailChange, requestEmailChange } from '../../src/accounts/email-change.js'
import { deleteOwnAccount } from '../../src/accounts/deletion.js'
import { REAUTHENTICATE_AFTER_MS, authenticatedAt, signOut } from '../../src/sessions/lifecycle.js'
import { AnyPasswordSchema, BODY, CLEAR_SESSION_COOKIE, CSRF, EmailSchema, EmailedTokenSchema, GUARD, LIMITED, MessageSchema, UserSchema, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

const Nullable = <T extends ReturnType<typeof Type.String>>(s: T) => Type.Union([s, Type.Null()])
export const UsernameSchema = Type.String({ minLength: 3, maxLength: 32, description: '3 to 32 letters, digits, dots, dashes or underscores (NFKC); unique, case-insensitively' })
export const NameSchema = Type.String({ maxLength: 100, description: 'NFKC, trimmed; empty clears it' })

export const ProfileBodySchema = Type.Object({
  username: Type.Optional(Nullable(UsernameSchema)),
  firstName: Type.Optional(Nullable(NameSchema)),
  lastName: Type.Optional(Nullable(NameSchema))
}, { additionalProperties: false, minProperties: 1, description: 'The fields to change; null removes one.' })
export const UserAnswerSchema = Type.Object({ user: UserSchema }, { $id: 'UserAnswer', additionalProperties: false })
export const EmailChangeBodySchema = Type.Object({ newEmail: EmailSchema, password: AnyPasswordSchema }, { additionalProperties: false })
export const EmailTokenBodySchema = Type.Object({ token: EmailedTokenSchema }, { additionalProperties: false })
export const DeleteAccountBodySchema = Type.Object({
  password: Type.Optional(AnyPasswordSchema),
  totpCode: Type.Optional(Type.String({ minLength: 6, maxLength: 24, pattern: '^[0-9A-Za-z -]+$', description: 'with 2FA on: a TOTP code or a backup code' }))
}, { additionalProperties: false, description: '`password` is required when the account has one; an account without one (created by a provider, or signing in with passkeys) must have signed in within the last 10 minutes instead.' })

export const EMAIL_CHANGE_ACCEPTED = 'If the address can be used, a confirmation link is on its way to it.'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.patch('/me', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'updateProfile',
      tags: tag('account'),
      summary: 'Change the username, first or last name of the signed-in user',
      description: 'Validated as at registration. 409 USERNAME_TAKEN when another account has the username (nothing is changed then).',
      body: ProfileBodySchema,
      response: { 200: answer('The user as stored now', UserAnswerSchema), ...problems(BODY, CSRF, GUARD, 'USERNAME_TAKEN') }
    }
  }, async (request) => {
    const user = await updateProfile(app.users, request.user!, request.body)
    await app.events.emit({ type: 'user.profile_updated', userId: user.id, ...app.events.origin(request), data: { fields: Object.keys(request.body).sort().join(',') } })
    return { user: publicUser(user) }
  })

  app.post('/email/change', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'requestEmailChange',
      tags: tag('account'),
      summary: 'Ask to move the account to a new address; a link goes to it',
      description: 'Answers the same 202 whether or not the address is free (a taken one gets a notice instead of a link). The current address gets a notice with a "this wasn\'t me" link. Nothing changes until POST /email/confirm. 429 while a confirmed change can still be undone.',
      body: EmailChangeBodySchema,
      response: { 202: answer('Accepted: a confirmation link is on its way if the address can be used', MessageSchema), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS') }
    },
    config: { rateLimit: { max: app.config.emailTokenRateLimit, timeWindow: 60_000 } },
    // The new address is mailed whoever owns it: it gets the per-address budget every route
    // that mails a chosen address has.
    preHandler: [app.limitCredentialChecks, app.limitMailPerAddress]
  }, async (request, reply) => {
    await requestEmailChange(app.emailChange, request.user!, request.body)
    // Recorded whether or not the address was free: the owner did ask, and the answer's
    // timing must not tell a taken address from a free one.
    await app.events.emit({ type: 'user.email_change_requested', userId: request.user!.id, ...app.events.origin(request) })
    return await reply.code(202).send({ message: EMAIL_CHANGE_ACCEPTED })
  })

  app.post('/email/confirm', {
    schema: {
      operationId: 'confirmEmailChange',
      tags: tag('account'),
      summary: 'Confirm a new address with the token of the link mailed to it',
      description: 'Single use, like the verification link. 409 EMAIL_TAKEN when another account took the address meanwhile. The old address gets a notice with a "this wasn\'t me" link.',
      security: [],
      body: EmailTokenBodySchema,
      response: { 200: answer('The account has its new address', UserAnswerSchema), ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'EMAIL_TAKEN') }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request) => {
    const { user } = await confirmEmailChange(app.emailChange, request.body.token)
    await app.events.emit({ type: 'user.email_changed', userId: user.id, ...app.events.origin(request) })
    return { user: publicUser(user) }
  })

  app.post('/email/cancel', {
    schema: {
      operationId: 'cancelEmailChange',
      tags: tag('account'),
      summary: '"This wasn\'t me": undo an email change with the token mailed to the old address',
      description: 'Drops a pending change, or puts the old address back after a confirmed one, and ends every session and token family of the account.',
      security: [],
      body: EmailTokenBodySchema,
      response: { 200: answer('Undone; every session has ended', MessageSchema, CLEAR_SESSION_COOKIE), ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN') }
    },
    config: { rateLimit: { max: app.config.loginRateLimit, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const { user, restored } = await cancelEmailChange(app.emailChange, request.body.token)
    if ((request.session as typeof request.session | null)?.userId === user.id) await signOut(app.sessions, request, reply)
    await app.events.emit({ type: 'session.all_ended', userId: user.id, ...app.events.origin(request), data: { reason: 'email_change_cancelled' } })
    if (restored) await app.events.emit({ type: 'user.email_changed', userId: user.id, ...app.events.origin(request), data: { reason: 'cancelled' } })
    return { message: 'The email change was undone and every session signed out; reset your password now.' }
  })

  app.delete('/me', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'deleteAccount',
      tags: tag('account'),
      summary: 'Delete the signed-in user\'s account (password, and a 2FA code when 2FA is on)',
      description: 'Ends every session and token family, deletes the account and everything kept about it, and frees the address and username.',
      body: DeleteAccountBodySchema,
      response: { 204: noContent('Deleted; the cookie is expired', CLEAR_SESSION_COOKIE), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS', 'INVALID_MFA_CODE', 'REAUTHENTICATION_REQUIRED') }
    },
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    const user = request.user!
    const recentSignIn = Date.now() - await authenticatedAt(app.sessions, request) <= REAUTHENTICATE_AFTER_MS
    const sessionsEnded = await deleteOwnAccount(app.accountDeletion, user, { ...request.body, recentSignIn }, async () => {
      await app.events.emit({ type: 'user.deleted', userId: user.id, ...app.events.origin(request), data: { by: 'owner' } })
    })
    await signOut(app.sessions, request, reply)
    request.log.info({ userId: user.id, sessionsEnded }, 'account deleted by its owner')
    return await reply.code(204).send(null)
  })
}

export default routes
