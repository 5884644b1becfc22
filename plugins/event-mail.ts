import fp from 'fastify-plugin'
import { callsForMail, securityMail } from '../src/events/mail.js'

/** Mails the account's owner about the security events they must hear of (src/events/mail.ts). */
export default fp(async (app) => {
  const appOrigin = app.config.appOrigin
  app.events.addSink(async (event) => {
    if (!callsForMail(event)) return
    const user = await app.users.findById(event.userId)
    if (user === null) return
    const mail = securityMail(event, user.email, appOrigin)
    // Posted, not sent: the request that caused the event never waits for SMTP.
    if (mail !== null) await app.mailer.post(mail)
  })
}, { name: 'event-mail', dependencies: ['config', 'events', 'accounts', 'mailer'] })
