import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthError } from '../../src/http/errors.js'
import { currentKeep, endSession, listSessions, signOut } from '../../src/sessions/lifecycle.js'
import { endAllSessions } from '../../src/sessions/end-all.js'
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
  method: Type.Union([Type.Literal('password'), Type.Literal('passkey'), Type.Literal('email_code'), Type.Literal('provider')], { description: 'how this session or token family signed in' }),
  current: Type.Boolean({ description: 'true for the session or token family this request was made with' })
}, { $id: 'SessionInfo', additionalProperties: false })

export const SessionListSchema = Type.Object({ sessions: Type.Array(SessionInfoSchema) }, { $id: 'SessionList', additionalProperties: false })

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
      response: { 200: answer('The user\'s live sessions and token families, most recently used first', SessionListSchema), ...problems(GUARD) }
    }
  }, async (request) => {
    return { sessions: await listSessions(app.sessions, request.user!.id, currentKeep(request)) }
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
