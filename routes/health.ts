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
      await app.redis.ping()
      return { status: 'ok', redis: 'ready' }
    } catch {
      return await reply.code(503).header('retry-after', '1').send({ status: 'unavailable', redis: app.redis.status })
    }
  })
}

export default routes
