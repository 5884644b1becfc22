import fp from 'fastify-plugin'
import { LoginThrottle } from '../src/accounts/login-throttle.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Per-account back-off after failed sign-ins, shared by every process through Redis.
     * Wrong MFA codes count too: every secret check runs under `app.loginThrottle.guard()`.
     */
    loginThrottle: LoginThrottle
  }
}

export default fp(async (app) => {
  const c = app.config
  app.decorate('loginThrottle', new LoginThrottle(app.redis, {
    prefix: c.redisKeyPrefix,
    // One budget per account, whichever identifier was typed (and shared with its MFA checks).
    resolve: async (identifier: string) => await app.users.idByLogin(identifier),
    freeFailures: c.loginFreeFailures,
    baseDelayMs: c.loginBackoffBaseMs,
    maxDelayMs: c.loginBackoffMaxMs,
    windowMs: c.loginFailureWindowMs
  }))
}, { name: 'login-throttle', dependencies: ['config', 'redis', 'accounts'] })
