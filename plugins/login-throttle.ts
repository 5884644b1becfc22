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
    prefix: c.REDIS_KEY_PREFIX,
    freeFailures: c.LOGIN_FREE_FAILURES,
    baseDelayMs: c.LOGIN_BACKOFF_BASE * 1000,
    maxDelayMs: c.LOGIN_BACKOFF_MAX * 1000,
    windowMs: c.LOGIN_FAILURE_WINDOW * 1000
  }))
}, { name: 'login-throttle', dependencies: ['config', 'redis'] })
