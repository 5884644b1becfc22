import fp from 'fastify-plugin'
import { LoginThrottle } from '../src/accounts/login-throttle.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Per-account back-off after failed sign-ins, shared by every process through Redis.
     * Wrong MFA codes count too: `app.loginThrottle.recordFailure(identifierOrUserId)`.
     */
    loginThrottle: LoginThrottle
  }
}

export default fp(async (app) => {
  const c = app.config
  app.decorate('loginThrottle', new LoginThrottle(app.redis, {
    prefix: c.redisKeyPrefix,
    freeFailures: c.loginFreeFailures,
    baseDelayMs: c.loginBackoffBaseMs,
    maxDelayMs: c.loginBackoffMaxMs,
    windowMs: c.loginFailureWindowMs
  }))
}, { name: 'login-throttle', dependencies: ['config', 'redis'] })
