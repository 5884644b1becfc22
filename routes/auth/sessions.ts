import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthError } from '../../src/http/errors.js'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { BODY, CLEAR_SESSION_COOKIE, CSRF, GUARD, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

const Time = Type.String({ format: 'date-time' })

export const SessionInfoSchema = Type.Object({
  id: Type.String({ description: 'public handle: never the cookie value or a token' }),
  kind: Type.Union([Type.Literal('cookie'), Type.Literal('token')], { description: '`cookie`: a browser session; `token`: a bearer token family (one POST /token login and its refreshes)' }),
  createdAt: Time,
  lastSeenAt: Time,
  expiresAt: Time,
  ip: Type.String(),
  userAgent: Type.String(),
  current: Type.Boolean({ description: 'true for the session or token family this request was made with' })
}, { $id: 'SessionInfo', additionalProperties: false })

export const SessionListSchema = Type.Object({ sessions: Type.Array(SessionInfoSchema) }, { $id: 'SessionList', additionalProperties: false })

const SessionIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 16, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
}, { additionalProperties: false })

const iso = (ms: number): string => new Date(ms).toISOString()

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/sessions', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listSessions',
      tags: tag('sessions'),
      summary: 'Where the user is signed in: cookie sessions and bearer token families',
      response: { 200: answer('The user\'s live sessions and token families, most recently used first', SessionListSchema), ...problems(GUARD) }
    }
  }, async (request) => {
    const userId = request.user!.id
    const auth = request.auth
    const currentDigest = auth?.kind === 'session' ? app.sessions.currentDigest(request) : undefined
    const currentFamily = auth?.kind === 'bearer' ? auth.familyId : undefined
    const [sessions, families] = await Promise.all([app.sessionStore.listForUser(userId), app.tokenStore.listForUser(userId)])
    const list = [
      ...sessions.map(s => ({
        id: s.handle,
        kind: 'cookie' as const,
        createdAt: iso(s.createdAt),
        lastSeenAt: iso(s.lastSeenAt),
        expiresAt: s.expiresAt.toISOString(),
        ip: s.ip,
        userAgent: s.userAgent,
        current: s.digest === currentDigest
      })),
      ...families.map(f => ({
        id: f.familyId,
        kind: 'token' as const,
        createdAt: iso(f.createdAt),
        lastSeenAt: iso(f.lastSeenAt),
        expiresAt: iso(f.expiresAt),
        ip: f.ip,
        userAgent: f.userAgent,
        current: f.familyId === currentFamily
      }))
    ].sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt))
    return { sessions: list }
  })

  app.delete('/sessions/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'endSession',
      tags: tag('sessions'),
      summary: 'End one of the user\'s own sessions or token families',
      description: 'Another user\'s id, or one that has already ended, answers 404 and changes nothing. Ending the current cookie session also expires the cookie.',
      params: SessionIdParamsSchema,
      response: { 204: noContent('Ended', CLEAR_SESSION_COOKIE), ...problems(BODY, CSRF, GUARD, 'NOT_FOUND') }
    }
  }, async (request, reply) => {
    const userId = request.user!.id
    const { id } = request.params
    const currentDigest = request.auth?.kind === 'session' ? app.sessions.currentDigest(request) : undefined
    if (currentDigest !== undefined && RedisSessionStore.handleOf(currentDigest) === id) {
      await app.sessions.signOut(request, reply)
      return await reply.code(204).send(null)
    }
    // Only the user's own index is searched, so another user's id is simply not found.
    const ended = await app.sessionStore.destroyByHandle(userId, id) || await app.tokenStore.endFamily(userId, id)
    if (!ended) throw new AuthError('NOT_FOUND', 'No such session.')
    request.log.info({ userId }, 'session ended by its user')
    return await reply.code(204).send(null)
  })

  app.post('/logout-all', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logoutAll',
      tags: tag('sessions'),
      summary: 'End every session and token family of the user, this one included',
      response: { 204: noContent('Every session and token family of the user has ended', CLEAR_SESSION_COOKIE), ...problems(BODY, CSRF, GUARD) }
    }
  }, async (request, reply) => {
    const userId = request.user!.id
    const ended = await app.sessions.endAll(userId)
    await app.sessions.signOut(request, reply)
    request.log.info({ userId, ended }, 'logout-all')
    return await reply.code(204).send(null)
  })
}

export default routes
