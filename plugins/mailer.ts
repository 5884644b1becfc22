import fp from 'fastify-plugin'
import { Mailer } from '../src/mail/mailer.js'

declare module 'fastify' {
  interface FastifyInstance { mailer: Mailer }
}

export default fp(async (app) => {
  const c = app.config
  const mailer = new Mailer({ from: c.mailFrom, smtpUrl: c.smtpUrl, outboxDir: c.mailOutboxDir, sendTimeout: c.mailSendTimeoutMs, attempts: c.mailSendAttempts, retryDelay: c.mailRetryDelayMs, log: app.log.child({ module: 'mailer' }) })
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => { await mailer.close() })
}, { name: 'mailer', dependencies: ['config'] })
