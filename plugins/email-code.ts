import fp from 'fastify-plugin'
import { hmac } from '../src/crypto/secrets.js'
import { EmailCodes } from '../src/email-code/store.js'
import type { EmailCodeDeps } from '../src/email-code/sign-in.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/email-code/sign-in.ts take */
    emailCode: EmailCodeDeps
  }
}

export default fp(async (app) => {
  const c = app.config
  app.decorate('emailCode', {
    users: app.users,
    // A key of its own, derived from the session secret: a copy of Redis cannot be searched
    // for the million possible codes without it.
    codes: new EmailCodes(app.redis, c.redisKeyPrefix, hmac(c.sessionSecret, 'gatehouse email sign-in codes'), c.emailCodeTtlMs),
    mailer: app.mailer,
    log: app.log.child({ module: 'email-code' }),
    appOrigin: c.appOrigin
  })
}, { name: 'email-code', dependencies: ['config', 'redis', 'accounts', 'mailer'] })
