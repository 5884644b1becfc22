import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthError } from '../../src/http/errors.js'
import { currentKeep, decodeCursor, endSession, listSessions, signOut } from '../../src/sessions/lifecycle.js'
import { endAllSessions } from '../../src/sessions/end-all.js'
import { BODY, CLEAR_SESSION_COOKIE, CSRF, GUARD, SessionListSchema, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

const SessionPageQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ minLength: 3, maxLength: 80, pattern: '^[0-9a-z]{1,11}\\.[A-Za-z0-9_-]{16,64}$', description: 'the `nextCursor` of the page before' })),
  limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'entries per page, 1 to 100 (default 100)' }))
}, { additionalProperties: false })

const SessionIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 16, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
}, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/sessions', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listSessions',
      tags: tag('sessions'),
      summary: 'Where the user is signed in: cookie sessions and bearer token families',
      description: 'A page at a time, most recently used first; `nextCursor` asks for the next page.',
      querystring: SessionPageQuerySchema,
      response: { 200: answer('The user\'s live sessions and token families, most recently used first', SessionListSchema), ...problems('VALIDATION_FAILED', GUARD) }
    }
  }, async (request) => {
    const { cursor, limit } = request.query
    const after = cursor === undefined ? undefined : decodeCursor(cursor) ?? undefined
    return await listSessions(app.sessions, request.user!.id, currentKeep(request), { after, limit: limit === undefined ? 100 : Number(limit) })
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
    const ended = await endSession(app.sessions, request, reply, userId, request.params.id)
    if (!ended) throw new AuthError('NOT_FOUND', 'No such session.')
    request.log.info({ userId }, 'session ended by its user')
    await app.events.emit({ type: 'session.ended', userId, ...app.events.origin(request), data: { by: 'user' } })
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
    const ended = await endAllSessions(app.sessions, userId)
    await signOut(app.sessions, request, reply)
    request.log.info({ userId, ended }, 'logout-all')
    await app.events.emit({ type: 'session.all_ended', userId, ...app.events.origin(request), data: { by: 'user', ended } })
    return await reply.code(204).send(null)
  })
}

export default routes
