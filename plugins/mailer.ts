import fp from 'fastify-plugin'
import { Mailer } from '../src/mail/delivery.js'

declare module 'fastify' {
  interface FastifyInstance { mailer: Mailer }
}

export default fp(async (app) => {
  const c = app.config
  const mailer = new Mailer({ from: c.mailFrom, smtpUrl: c.smtpUrl, outboxDir: c.mailOutboxDir, sendTimeoutMs: c.mailSendTimeoutMs, attempts: c.mailSendAttempts, retryDelayMs: c.mailRetryDelayMs, log: app.log.child({ module: 'mailer' }) })
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => { await mailer.close() })
}, { name: 'mailer', dependencies: ['config'] })
