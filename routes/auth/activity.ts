import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EVENT_TYPES } from '../../src/events/catalogue.js'
import { CURSOR_PATTERN, readUserEvents, type StoredEvent } from '../../src/events/store.js'
import { BODY, GUARD, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

export const ActivityEventSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'the event\'s id (a webhook\'s `webhook-id`)' }),
  type: Type.Unsafe<typeof EVENT_TYPES[number]>({ type: 'string', enum: [...EVENT_TYPES], description: 'see the README\'s event catalogue' }),
  at: Type.String({ format: 'date-time' }),
  ip: Type.Optional(Type.String()),
  userAgent: Type.Optional(Type.String()),
  data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), { description: 'the facts the catalogue lists for the type; never a secret' })
}, { $id: 'ActivityEvent', additionalProperties: false })

export const ActivityPageSchema = Type.Object({
  events: Type.Array(ActivityEventSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass it as `cursor` for the next (older) page; null on the last page' })
}, { $id: 'ActivityPage', additionalProperties: false })

export const ActivityQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ pattern: CURSOR_PATTERN, maxLength: 41, description: 'the `nextCursor` of the page before' })),
  // A string: query values are never coerced (see serverOptions' Ajv options).
  limit: Type.Optional(Type.String({ pattern: '^([1-9]|[1-9][0-9]|100)$', description: 'events per page, 1 to 100 (default 20)' }))
}, { additionalProperties: false })

/** One stored event as the HTTP answer shows it. */
export function activityEvent (e: StoredEvent): { id: string, type: StoredEvent['type'], at: string, ip?: string, userAgent?: string, data: StoredEvent['data'] } {
  return {
    id: e.id,
    type: e.type,
    at: new Date(e.at).toISOString(),
    ...(e.ip === undefined ? {} : { ip: e.ip }),
    ...(e.userAgent === undefined ? {} : { userAgent: e.userAgent }),
    data: e.data
  }
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/activity', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listActivity',
      tags: tag('activity'),
      summary: 'The signed-in user\'s recent security events, newest first',
      description: 'Sign-ins (with IP and user agent), failed sign-ins, sign-outs, password and 2FA changes, linked identities and more, as the README\'s event catalogue lists them. Paged by `cursor`; events older than `EVENTS_USER_MAX_AGE` or beyond `EVENTS_USER_MAX_COUNT` are gone.',
      querystring: ActivityQuerySchema,
      response: { 200: answer('A page of events and the cursor of the next one', ActivityPageSchema), ...problems(BODY, GUARD) }
    }
  }, async (request) => {
    const page = await readUserEvents(app.redis, app.config.redisKeyPrefix, request.user!.id, {
      cursor: request.query.cursor,
      limit: request.query.limit === undefined ? 20 : Number(request.query.limit)
    })
    return { events: page.events.map(activityEvent), nextCursor: page.nextCursor }
  })
}

export default routes
