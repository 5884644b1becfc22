import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { LoginThrottle, type FailedAttempt } from '../src/accounts/login-throttle.js'
import type { SignInMethod } from '../src/events/catalogue.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Per-account back-off after failed sign-ins, shared by every process through Redis.
     * Wrong MFA codes count too: every secret check runs under `app.loginThrottle.guard()`.
     */
    loginThrottle: LoginThrottle
    /** `guard`'s `failed`: records a failed sign-in of a known account (and a back-off it starts) */
    failedSignIn: (request: FastifyRequest, method: SignInMethod) => (failure: FailedAttempt) => Promise<void>
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
  app.decorate('failedSignIn', (request: FastifyRequest, method: SignInMethod) => async (f: FailedAttempt) => {
    const origin = app.events.origin(request)
    await app.events.emit({ type: 'session.sign_in_failed', userId: f.userId, ...origin, data: { method, failures: f.failures } })
    if (f.backoffStarted) await app.events.emit({ type: 'session.backoff_started', userId: f.userId, ...origin, data: { failures: f.failures, device: f.device } })
  })
}, { name: 'login-throttle', dependencies: ['config', 'redis', 'accounts', 'events'] })
