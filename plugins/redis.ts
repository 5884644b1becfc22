import fp from 'fastify-plugin'
import { createRedis, type RedisClient } from '../src/redis.js'

declare module 'fastify' {
  interface FastifyInstance { redis: RedisClient }
}

/**
 * Owns the one Redis connection. The server starts even while Redis is down (requests get
 * 503 and /health/ready says so) and heals when Redis comes back: reconnection never stops.
 */
export default fp(async (app) => {
  const redis = createRedis(app.config)
  let lastState = ''
  const note = (state: string, err?: Error): void => {
    if (state === lastState) return
    lastState = state
    if (err !== undefined) app.log.warn({ err: { message: err.message } }, `redis ${state}`)
    else app.log.info(`redis ${state}`)
  }
  redis.on('ready', () => note('ready'))
  redis.on('error', (err: Error) => note('unreachable', err))
  redis.on('end', () => note('closed'))
  app.decorate<RedisClient>('redis', redis)
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect())
  })
  try {
    await redis.connect()
  } catch (err) {
    app.log.warn({ err: { message: (err as Error).message } }, 'redis not reachable at start; serving 503 until it is')
  }
}, { name: 'redis', dependencies: ['config'] })
