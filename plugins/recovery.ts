import fp from 'fastify-plugin'
import type { RecoveryDeps } from '../src/accounts/recovery.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/recovery.ts take */
    recovery: RecoveryDeps
  }
}

export default fp(async (app) => {
  const { verifyTokenTtlMs: _, ...accounts } = app.accounts
  app.decorate('recovery', {
    ...accounts,
    log: app.log.child({ module: 'recovery' }),
    resetTokenTtlMs: app.config.resetTokenTtlMs,
    // Looked up at call time: whatever extends endAll (bearer-token families) applies here.
    endSessions: async (userId: string, keep?: string) => await app.sessions.endAll(userId, keep)
  })
}, { name: 'recovery', dependencies: ['config', 'accounts', 'password-hasher', 'mailer', 'session'] })
