import fp from 'fastify-plugin'
import type { RecoveryDeps } from '../src/accounts/recovery.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/accounts/recovery.ts take */
    recovery: RecoveryDeps
  }
}

export default fp(async (app) => {
  const { verifyTokenTtlMs: _, ...accounts } = app.accounts
  app.decorate('recovery', {
    ...accounts,
    log: app.log.child({ module: 'recovery' }),
    resetTokenTtlMs: app.config.resetTokenTtlMs,
    sessions: app.sessions,
    // Looked up at call time (the throttle is registered later): a reset lifts the back-off.
    clearBackoff: async (userId: string) => { await app.loginThrottle.reset(userId) },
    guardPassword: async (userId: string, check: () => Promise<void>) => { await app.loginThrottle.guard(userId, check) }
  })
}, { name: 'recovery', dependencies: ['config', 'accounts', 'password-hasher', 'mailer', 'session'] })
