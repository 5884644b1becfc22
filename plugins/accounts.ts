import fp from 'fastify-plugin'
import type { AccountDeps } from '../src/accounts/registration.js'
import { EmailTokens } from '../src/accounts/email-tokens.js'
import { UserRepository } from '../src/accounts/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    users: UserRepository
    emailTokens: EmailTokens
    /** everything the account functions of src/accounts/registration.ts take */
    accounts: AccountDeps
  }
}

export default fp(async (app) => {
  const users = new UserRepository(app.redis, app.config.redisKeyPrefix)
  const emailTokens = new EmailTokens(app.redis, app.config.redisKeyPrefix)
  app.decorate('users', users)
  app.decorate('emailTokens', emailTokens)
  app.decorate('accounts', {
    users,
    emailTokens,
    hasher: app.hasher,
    mailer: app.mailer,
    log: app.log.child({ module: 'accounts' }),
    appOrigin: app.config.appOrigin,
    verifyTokenTtlMs: app.config.verifyTokenTtlMs
  })
}, { name: 'accounts', dependencies: ['config', 'redis', 'password-hasher', 'mailer'] })
