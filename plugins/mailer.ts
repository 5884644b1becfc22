import fp from 'fastify-plugin'
import { Mailer } from '../src/mail/mailer.js'

declare module 'fastify' {
  interface FastifyInstance { mailer: Mailer }
}

export default fp(async (app) => {
  const c = app.config
  const mailer = new Mailer({ from: c.MAIL_FROM, smtpUrl: c.SMTP_URL, outboxDir: c.MAIL_OUTBOX_DIR, sendTimeout: c.MAIL_SEND_TIMEOUT_MS, attempts: c.MAIL_SEND_ATTEMPTS, retryDelay: c.MAIL_RETRY_DELAY_MS, log: app.log.child({ module: 'mailer' }) })
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => { await mailer.close() })
}, { name: 'mailer', dependencies: ['config'] })
