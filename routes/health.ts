import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { answer } from '../src/http/schemas.js'
import { tag } from '../src/http/tags.js'

export const HealthSchema = Type.Object({ status: Type.String(), redis: Type.Optional(Type.String()) }, { $id: 'Health', additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    schema: { operationId: 'live', tags: tag('operations'), summary: 'The process is up', security: [], response: { 200: answer('The process answers', HealthSchema) } }
  }, async () => ({ status: 'ok' }))

  app.get('/health/ready', {
    schema: {
      operationId: 'ready',
      tags: tag('operations'),
      summary: 'Redis answers: the server can serve',
      security: [],
      response: {
        200: answer('Ready', HealthSchema),
        503: answer('Redis cannot be reached: take this process out of the load balancer for now', HealthSchema, { 'Retry-After': { type: 'integer', description: 'seconds' } })
      }
    }
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
