import fp from 'fastify-plugin'
import { createRedis, type RedisClient } from '../src/redis.js'
import { AuthError } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyInstance { redis: RedisClient }
  interface FastifyContextConfig {
    /** false for routes that answer without Redis (health, metrics): no 503 pre-check */
    redis?: boolean
  }
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

  /*
   * Fast pre-check: while the connection is down (reconnecting, not yet connected) a route
   * that needs Redis answers 503 at once, before the session is read or a password hashed.
   * A Redis that is connected but stalled (SIGSTOP, a long fork) still looks ready; there
   * the command timeout bounds the answer. Unknown URLs (404) do not need Redis.
   */
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === undefined || request.routeOptions.config.redis === false) return
    if (redis.status !== 'ready') throw new AuthError('SERVICE_UNAVAILABLE', 'The session store cannot be reached; try again shortly.', { retryAfter: 1 })
  })
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect())
    note('closed')
  })
  try {
    await redis.connect()
  } catch (err) {
    app.log.warn({ err: { message: (err as Error).message } }, 'redis not reachable at start; serving 503 until it is')
  }
}, { name: 'redis', dependencies: ['config'] })
