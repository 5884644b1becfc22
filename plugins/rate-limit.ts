import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { AuthError } from '../src/http/errors.js'

/**
 * @fastify/rate-limit with its Redis store, so every server process shares the counts.
 * Nothing is limited globally; routes opt in with `config.rateLimit`.
 */
export default fp(async (app) => {
  await app.register(rateLimit, {
    global: false,
    redis: app.redis,
    nameSpace: `${app.config.redisKeyPrefix}rl:`,
    // A Redis failure must not turn the limiter off: the request fails with 503 instead.
    skipOnError: false,
    errorResponseBuilder: (_request, ctx) => new AuthError('RATE_LIMITED', `Too many attempts; try again in ${ctx.after}.`, { retryAfter: Math.max(1, Math.ceil(ctx.ttl / 1000)) })
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis'] })
