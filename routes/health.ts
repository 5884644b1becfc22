import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const HealthSchema = Type.Object({ status: Type.String(), redis: Type.Optional(Type.String()) }, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    schema: { tags: ['operations'], summary: 'The process is up', response: { 200: HealthSchema } }
  }, async () => ({ status: 'ok' }))

  app.get('/health/ready', {
    schema: { tags: ['operations'], summary: 'Redis answers: the server can serve', response: { 200: HealthSchema, 503: HealthSchema } }
  }, async (_request, reply) => {
    try {
      // A write, not a PING: a Redis at maxmemory (noeviction) answers PING but refuses
      // every login, so it must not count as ready.
      await app.redis.set(`${app.config.redisKeyPrefix}health:probe`, '1', 'PX', 10_000)
      return { status: 'ok', redis: 'ready' }
    } catch (err) {
      const state = err instanceof Error && err.message.startsWith('OOM ') ? 'out-of-memory' : app.redis.status
      return await reply.code(503).header('retry-after', '1').send({ status: 'unavailable', redis: state })
    }
  })
}

export default routes
