import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { errorHandler, problem, sendProblem } from './problem.js'
import configPlugin from '../plugins/config.js'
import redisPlugin from '../plugins/redis.js'
import hasherPlugin from '../plugins/password-hasher.js'
import mailerPlugin from '../plugins/mailer.js'
import accountsPlugin from '../plugins/accounts.js'
import sessionPlugin from '../plugins/session.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import authenticatePlugin from '../plugins/authenticate.js'
import recoveryPlugin from '../plugins/recovery.js'
import mailRateLimitPlugin from '../plugins/mail-rate-limit.js'
import healthRoutes from '../routes/health.js'
import registerRoutes from '../routes/auth/register.js'
import sessionRoutes from '../routes/auth/session.js'
import passwordRoutes from '../routes/auth/password.js'

export const BODY_LIMIT = 16 * 1024

/** Fastify's own options; the server and the tests create Fastify with these. */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      // Never log cookies, tokens or passwords: headers are not logged at all, and the
      // query string is dropped because emailed links carry their token there.
      serializers: {
        req: (req: { method: string, url: string, ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], ip: req.ip })
      }
    },
    bodyLimit: BODY_LIMIT,
    // A hop count is valid for Fastify (proxy-addr) though its types only list booleans and lists.
    trustProxy: config.trustProxy as boolean,
    // Fastify's JSON parser refuses __proto__ and constructor.prototype keys (secure-json-parse).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: {
      customOptions: {
        // Unknown fields are an error, never silently dropped; types are never coerced.
        removeAdditional: false,
        coerceTypes: false,
        allErrors: true
      }
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle'
  }
}

/** The whole application as one plugin; it never listens. */
export default async function app (fastify: FastifyInstance, opts: { config: Config }): Promise<void> {
  fastify.setErrorHandler(errorHandler)
  fastify.setNotFoundHandler((request, reply) => sendProblem(reply, problem('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)))

  await fastify.register(configPlugin, { config: opts.config })
  await fastify.register(redisPlugin)
  await fastify.register(hasherPlugin)
  await fastify.register(mailerPlugin)
  await fastify.register(accountsPlugin)
  await fastify.register(sessionPlugin)
  await fastify.register(rateLimitPlugin)
  await fastify.register(authenticatePlugin)
  await fastify.register(recoveryPlugin)
  await fastify.register(mailRateLimitPlugin)

  await fastify.register(healthRoutes)
  await fastify.register(async (api) => {
    await api.register(registerRoutes)
    await api.register(sessionRoutes)
    await api.register(passwordRoutes)
  }, { prefix: '/api/auth' })
}
