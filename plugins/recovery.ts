import fp from 'fastify-plugin'
import type { RecoveryDeps } from '../src/accounts/recovery.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/recovery.ts take */
    recovery: RecoveryDeps
  }
}

export default fp(async (app) => {
  const { verifyTokenTtl: _, ...accounts } = app.accounts
  app.decorate('recovery', {
    ...accounts,
    log: app.log.child({ module: 'recovery' }),
    resetTokenTtl: app.config.RESET_TOKEN_TTL,
    // Looked up at call time: whatever extends endAll (bearer-token families) applies here.
    endSessions: async (userId: string, keep?: string) => await app.sessions.endAll(userId, keep),
    // Looked up at call time too (the throttle is registered later): a reset lifts the back-off.
    clearBackoff: async (userId: string) => { await app.loginThrottle.reset(userId) },
    guardPassword: async (userId: string, check: () => Promise<void>) => { await app.loginThrottle.guard(userId, check) }
  })
}, { name: 'recovery', dependencies: ['config', 'accounts', 'password-hasher', 'mailer', 'session'] })
