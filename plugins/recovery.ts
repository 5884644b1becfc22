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
    sessions: app.sessions
  })
}, { name: 'recovery', dependencies: ['config', 'accounts', 'password-hasher', 'mailer', 'session'] })
