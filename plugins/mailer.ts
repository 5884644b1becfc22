import fp from 'fastify-plugin'
import { Mailer, mailerOptions } from '../src/mail/delivery.js'

declare module 'fastify' {
  interface FastifyInstance { mailer: Mailer }
}

export default fp(async (app) => {
  const mailer = new Mailer(mailerOptions(app.config, app.log.child({ module: 'mailer' })))
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => { await mailer.close() })
}, { name: 'mailer', dependencies: ['config'] })
