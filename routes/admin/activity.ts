import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readGlobalEvents, readUserEvents } from '../../src/events/store.js'
import { ADMIN_GUARD, BODY, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { ActivityEventSchema, ActivityPageSchema, ActivityQuerySchema, activityEvent } from '../auth/activity.js'

export const GlobalActivityEventSchema = Type.Object({
  ...ActivityEventSchema.properties,
  subject: Type.String({ description: 'the user, as an HMAC of the id: the same for all of one user\'s events, and naming no one once the account is deleted' })
}, { $id: 'GlobalActivityEvent', additionalProperties: false })

export const GlobalActivityPageSchema = Type.Object({
  events: Type.Array(GlobalActivityEventSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass it as `cursor` for the next (older) page; null on the last page' })
}, { $id: 'GlobalActivityPage', additionalProperties: false })

const IdParamsSchema = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false })

// The docs plugin fills `security` in for `app.authenticate` only; the admin guard names it here.
const SIGNED_IN: Array<Record<string, string[]>> = [{ cookie: [] }, { bearer: [] }]

const limitOf = (limit: string | undefined): number => limit === undefined ? 20 : Number(limit)

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/users/:id/activity', {
    onRequest: app.authenticateAdmin,
    schema: {
      operationId: 'adminUserActivity',
      tags: tag('admin'),
      security: SIGNED_IN,
      summary: 'A user\'s security events, newest first',
      description: 'What the user sees at GET /api/auth/activity. An id with no events (or no account) answers an empty page.',
      params: IdParamsSchema,
      querystring: ActivityQuerySchema,
      response: { 200: answer('A page of the user\'s events', ActivityPageSchema), ...problems(BODY, ADMIN_GUARD) }
    }
  }, async (request) => {
    const page = await readUserEvents(app.redis, app.config.redisKeyPrefix, request.params.id, { cursor: request.query.cursor, limit: limitOf(request.query.limit) })
    return { events: page.events.map(activityEvent), nextCursor: page.nextCursor }
  })

  app.get('/activity', {
    onRequest: app.authenticateAdmin,
    schema: {
      operationId: 'adminActivity',
      tags: tag('admin'),
      security: SIGNED_IN,
      summary: 'Every user\'s security events, newest first (the global stream)',
      description: 'Users appear as `subject`, an HMAC of their id; no IP address, user agent or email is kept here.',
      querystring: ActivityQuerySchema,
      response: { 200: answer('A page of the global stream', GlobalActivityPageSchema), ...problems(BODY, ADMIN_GUARD) }
    }
  }, async (request) => {
    const page = await readGlobalEvents(app.redis, app.config.redisKeyPrefix, { cursor: request.query.cursor, limit: limitOf(request.query.limit) })
    return {
      events: page.events.map(e => ({ id: e.id, type: e.type, at: new Date(e.at).toISOString(), subject: e.subject ?? '', data: e.data })),
      nextCursor: page.nextCursor
    }
  })
}

export default routes
