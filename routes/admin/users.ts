import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { publicUser, type User } from '../../src/accounts/users.js'
import { updateProfile } from '../../src/accounts/profile.js'
import { adminCreateUser, adminSendPasswordReset, disableUser, refuseOwnAccount, resetTwoFactor } from '../../src/accounts/admin.js'
import { deleteAccount } from '../../src/accounts/deletion.js'
import { accountDeletedMessage } from '../../src/accounts/account-mail.js'
import { endAllSessions } from '../../src/sessions/end-all.js'
import { listSessions } from '../../src/sessions/lifecycle.js'
import type { EventType } from '../../src/events/catalogue.js'
import { eventSubject } from '../../src/events/store.js'
import { AuthError } from '../../src/http/errors.js'
import { ADMIN_GUARD, BODY, CSRF, EmailSchema, MessageSchema, PasswordSchema, SessionInfoSchema, UserSchema, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { NameSchema, UsernameSchema } from '../auth/account.js'

export const AdminUserSchema = Type.Object({
  ...UserSchema.properties,
  disabled: Type.Boolean({ description: 'a disabled account cannot sign in; its sessions ended when it was disabled' })
}, { $id: 'AdminUser', additionalProperties: false })

export const UserPageSchema = Type.Object({
  users: Type.Array(AdminUserSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null after the last' })
}, { $id: 'UserPage', additionalProperties: false })

export const AdminUserDetailSchema = Type.Object({
  user: AdminUserSchema,
  sessions: Type.Array(SessionInfoSchema, { description: 'the 100 most recently used live cookie sessions and bearer token families (`current` is always false)' }),
  mfa: Type.Object({
    enabled: Type.Boolean(),
    backupCodesRemaining: Type.Integer({ minimum: 0 })
  }, { additionalProperties: false })
}, { $id: 'AdminUserDetail', additionalProperties: false })

export const AdminUserAnswerSchema = Type.Object({ user: AdminUserSchema }, { $id: 'AdminUserAnswer', additionalProperties: false })

export const ListQuerySchema = Type.Object({
  query: Type.Optional(Type.String({ maxLength: 254, description: 'a prefix of the email address or the username (case-insensitive, NFKC); empty or absent: every user, by email' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9_-]+$', description: 'the nextCursor of the previous page' })),
  // A query string holds text, and types are never coerced: the number is parsed below.
  limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|1[0-9]{2}|200)$', description: 'page size, 1 to 200 (default 50)' }))
}, { additionalProperties: false })

const IdParamsSchema = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false })

export const AdminCreateBodySchema = Type.Object({
  email: EmailSchema,
  password: Type.Optional(PasswordSchema),
  username: Type.Optional(UsernameSchema),
  firstName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  lastName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
  emailVerified: Type.Optional(Type.Boolean({ default: false })),
  invite: Type.Optional(Type.Boolean({ description: 'mail a link to choose a password (it verifies the address too)' }))
}, { additionalProperties: false })

const Nullable = <T extends ReturnType<typeof Type.String>>(s: T) => Type.Union([s, Type.Null()])
export const AdminPatchBodySchema = Type.Object({
  role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
  username: Type.Optional(Nullable(UsernameSchema)),
  firstName: Type.Optional(Nullable(NameSchema)),
  lastName: Type.Optional(Nullable(NameSchema)),
  emailVerified: Type.Optional(Type.Boolean())
}, { additionalProperties: false, minProperties: 1 })

function adminUser (u: User): typeof AdminUserSchema.static {
  return { ...publicUser(u), disabled: u.disabled }
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const notFound = (): never => { throw new AuthError('NOT_FOUND', 'No such user.') }
  const target = async (id: string): Promise<User> => await app.users.findById(id) ?? notFound()
  /** Every admin action is recorded as the admin's, and as the target's own event when it has one. */
  const record = async (request: FastifyRequest, action: string, targetUserId: string, own?: EventType): Promise<void> => {
    const origin = app.events.origin(request)
    await app.events.emit({ type: 'admin.action', userId: request.user!.id, ...origin, data: { action, target: eventSubject(app.events.subjectKey, targetUserId) } })
    if (own !== undefined) await app.events.emit({ type: own, userId: targetUserId, ...origin, data: { by: 'admin' } })
  }
  const onRequest = app.authenticateAdmin

  app.get('/users', {
    onRequest,
    schema: {
      operationId: 'adminListUsers',
      tags: tag('admin'),
      summary: 'Find users by email or username prefix, a page at a time',
      description: 'Emails first (in byte order of the lower-cased address), then usernames; a user is listed once. The cursor is stable while users are added and deleted: a user who exists throughout is listed exactly once.',
      querystring: ListQuerySchema,
      response: { 200: answer('A page of users', UserPageSchema), ...problems(BODY, ADMIN_GUARD) }
    }
  }, async (request) => {
    const { query = '', cursor, limit = '50' } = request.query
    const page = await app.users.index.page(query, cursor, Number(limit), async ids => await app.users.findByIds(ids))
    return { users: page.users.map(adminUser), nextCursor: page.nextCursor }
  })

  app.post('/users', {
    onRequest,
    schema: {
      operationId: 'adminCreateUser',
      tags: tag('admin'),
      summary: 'Create a user, verified or not, optionally mailing an invitation',
      description: 'Without a password the account has one nobody knows: send `invite` (or later a password reset) so the person can choose theirs.',
      body: AdminCreateBodySchema,
      response: { 201: answer('Created', AdminUserAnswerSchema), ...problems(BODY, CSRF, ADMIN_GUARD, 'EMAIL_TAKEN', 'USERNAME_TAKEN') }
    }
  }, async (request, reply) => {
    const user = await adminCreateUser(app.recovery, request.body)
    await record(request, 'adminCreateUser', user.id, 'user.signed_up')
    return await reply.code(201).send({ user: adminUser(user) })
  })

  app.get('/users/:id', {
    onRequest,
    schema: {
      operationId: 'adminGetUser',
      tags: tag('admin'),
      summary: 'A user with their sessions and 2FA status',
      params: IdParamsSchema,
      response: { 200: answer('The user', AdminUserDetailSchema), ...problems(BODY, ADMIN_GUARD, 'NOT_FOUND') }
    }
  }, async (request) => {
    const user = await target(request.params.id)
    const [sessions, backupCodesRemaining] = await Promise.all([
      listSessions(app.sessions, user.id, undefined, { limit: 100 }).then(page => page.sessions),
      app.mfa.backupCodes.remaining(user.id)
    ])
    return { user: adminUser(user), sessions, mfa: { enabled: user.mfaEnabled, backupCodesRemaining } }
  })

  app.patch('/users/:id', {
    onRequest,
    schema: {
      operationId: 'adminUpdateUser',
      tags: tag('admin'),
      summary: 'Change a user\'s role, username, names or verified flag',
      description: '409 OWN_ACCOUNT when an administrator would remove their own admin role.',
      params: IdParamsSchema,
      body: AdminPatchBodySchema,
      response: { 200: answer('The user as stored now', AdminUserAnswerSchema), ...problems(BODY, CSRF, ADMIN_GUARD, 'NOT_FOUND', 'USERNAME_TAKEN', 'OWN_ACCOUNT') }
    }
  }, async (request) => {
    const user = await target(request.params.id)
    if (request.body.role === 'user') refuseOwnAccount(request.user!.id, user.id, 'remove the admin role of')
    const updated = await updateProfile(app.users, user, request.body)
    await record(request, 'adminUpdateUser', user.id, 'user.profile_updated')
    return { user: adminUser(updated) }
  })

  const action = (path: string, operationId: string, summary: string, description: string, run: (request: FastifyRequest, user: User) => Promise<EventType | undefined>, extra: Array<'OWN_ACCOUNT'> = []): void => {
    app.post(`/users/:id${path}`, {
      onRequest,
      schema: {
        operationId,
        tags: tag('admin'),
        summary,
        description,
        params: IdParamsSchema,
        response: { 200: answer('Done', MessageSchema), ...problems(BODY, CSRF, ADMIN_GUARD, 'NOT_FOUND', ...extra) }
      }
    }, async (request) => {
      const user = await target((request.params as { id: string }).id)
      const own = await run(request, user)
      await record(request, operationId, user.id, own)
      return { message: `${summary}: done.` }
    })
  }

  action('/disable', 'adminDisableUser', 'Disable the user', 'Ends every session and token family; the user cannot sign in until enabled. 409 OWN_ACCOUNT for the administrator\'s own account.', async (request, user) => {
    refuseOwnAccount(request.user!.id, user.id, 'disable')
    await disableUser(app, user)
    return 'user.disabled'
  }, ['OWN_ACCOUNT'])

  action('/enable', 'adminEnableUser', 'Enable the user', 'The user can sign in again.', async (_request, user) => {
    await app.users.update(user.id, { disabled: false })
    return 'user.enabled'
  })

  action('/sessions/end', 'adminEndSessions', 'End every session of the user', 'Every cookie session and bearer token family of the user ends.', async (_request, user) => {
    await endAllSessions(app.sessions, user.id)
    return 'session.all_ended'
  })

  action('/2fa/reset', 'adminResetTwoFactor', 'Turn the user\'s 2FA off', 'Removes the TOTP secret and backup codes and ends every session (a lost authenticator). The user can enrol again.', async (_request, user) => {
    await resetTwoFactor(app.mfa, user)
    return user.mfaEnabled ? 'mfa.disabled' : undefined
  })

  action('/password-reset', 'adminSendPasswordReset', 'Mail the user a password reset link', 'The same link as /password/forgot sends; older links stop working.', async (_request, user) => {
    await adminSendPasswordReset(app.recovery, user)
    return undefined
  })

  app.delete('/users/:id', {
    onRequest,
    schema: {
      operationId: 'adminDeleteUser',
      tags: tag('admin'),
      summary: 'Delete the user and everything kept about them',
      description: 'As DELETE /api/auth/me: sessions and token families end, the address and username are freed. 409 OWN_ACCOUNT for the administrator\'s own account.',
      params: IdParamsSchema,
      response: { 204: noContent('Deleted'), ...problems(BODY, CSRF, ADMIN_GUARD, 'NOT_FOUND', 'OWN_ACCOUNT') }
    }
  }, async (request, reply) => {
    const user = await target(request.params.id)
    refuseOwnAccount(request.user!.id, user.id, 'delete')
    await record(request, 'adminDeleteUser', user.id, 'user.deleted')
    await deleteAccount(app.accountDeletion, user)
    // As DELETE /me does: the owner hears of it, at the address that is now free.
    await app.mailer.dispatch(accountDeletedMessage(user.email, app.config.appOrigin, 'admin'))
    return await reply.code(204).send(null)
  })
}

export default routes
