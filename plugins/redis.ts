import fp from 'fastify-plugin'
import type { onRequestAsyncHookHandler } from 'fastify'
import { createRedis, type RedisClient } from '../src/redis/client.js'
import { AuthError } from '../src/http/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient
    /**
     * onRequest hook for the routes that need Redis (the whole API scope): answers 503 at
     * once while the connection is down, before a password is hashed or a limit counted.
     */
    requireRedis: onRequestAsyncHookHandler
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
   * that needs Redis answers 503 at once. Commands would fail at once too (no offline
   * queue), but only after the work before them. A Redis that is connected but stalled
   * (SIGSTOP, a long fork) still looks ready; there the command timeout bounds the answer.
   * Health, metrics and static pages are outside the scope that uses this hook.
   */
  app.decorate('requireRedis', async function requireRedis () {
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
