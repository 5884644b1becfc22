/*
 * Resends the messages the server parked under MAIL_OUTBOX_DIR/failed/ because SMTP
 * refused them or was unreachable:   npm run mail:retry
 * Uses SMTP_URL and MAIL_FROM like the server. A message that goes out moves to
 * failed/sent/; one that still fails stays and is named in the log. Exit code 1 when any
 * message is left. Reset links in parked messages expire after RESET_TOKEN_TTL (30 min):
 * resending older ones only tells their owner to ask again.
 */
import Fastify from 'fastify'
import { loadConfig, ConfigError } from '../config.js'
import { Mailer, mailerOptions } from '../mail/delivery.js'

async function main (): Promise<number> {
  const config = loadConfig()
  const logger = Fastify({ logger: { level: config.logLevel } })
  if (config.smtpUrl === undefined) {
    logger.log.error('SMTP_URL is not set: there is nothing to resend through')
    return 1
  }
  const mailer = new Mailer(mailerOptions(config, logger.log))
  try {
    const { sent, failed } = await mailer.retryFailed()
    logger.log.info({ sent, failed }, 'parked mail resent')
    return failed === 0 ? 0 : 1
  } finally {
    await mailer.close()
    await logger.close()
  }
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exitCode = 1
})
