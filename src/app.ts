import type { Server, ServerOptions } from 'node:http'
import type { FastifyHttpOptions, FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { errorHandler, problem, sendProblem } from './http/problem.js'
import { clientErrorHandler, frameworkErrors } from './http/client-errors.js'
import configPlugin from '../plugins/config.js'
import redisPlugin from '../plugins/redis.js'
import hasherPlugin from '../plugins/password-hasher.js'
import mailerPlugin from '../plugins/mailer.js'
import accountsPlugin from '../plugins/accounts.js'
import tokensPlugin from '../plugins/tokens.js'
import sessionPlugin from '../plugins/session.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import authenticatePlugin from '../plugins/authenticate.js'
import mfaPlugin from '../plugins/mfa.js'
import passkeysPlugin from '../plugins/passkeys.js'
import loginThrottlePlugin from '../plugins/login-throttle.js'
import deviceCookiePlugin from '../plugins/device-cookie.js'
import credentialRateLimitPlugin from '../plugins/credential-rate-limit.js'
import cookieGuardPlugin from '../plugins/cookie-guard.js'
import securityHeadersPlugin from '../plugins/security-headers.js'
import corsPlugin from '../plugins/cors.js'
import csrfPlugin from '../plugins/csrf.js'
import jsonBodyPlugin from '../plugins/json-body.js'
import docsPlugin from '../plugins/docs.js'
import demoPlugin from '../plugins/demo.js'
import metricsPlugin from '../plugins/metrics.js'
import eventsPlugin from '../plugins/events.js'
import eventMailPlugin from '../plugins/event-mail.js'
import webhooksPlugin from '../plugins/webhooks.js'
import healthRoutes from '../routes/health.js'
import registerRoutes from '../routes/auth/register.js'
import sessionRoutes from '../routes/auth/session.js'
import sessionsRoutes from '../routes/auth/sessions.js'
import tokenRoutes from '../routes/auth/token.js'
import mfaRoutes from '../routes/auth/mfa.js'
import recoveryPlugin from '../plugins/recovery.js'
import mailRateLimitPlugin from '../plugins/mail-rate-limit.js'
import passwordRoutes from '../routes/auth/password.js'
import oauthPlugin from '../plugins/oauth.js'
import oauthRoutes from '../routes/auth/oauth.js'
import identitiesRoutes from '../routes/auth/identities.js'
import emailCodePlugin from '../plugins/email-code.js'
import emailCodeRoutes from '../routes/auth/email-code.js'
import activityRoutes from '../routes/auth/activity.js'
import adminActivityRoutes from '../routes/admin/activity.js'
import accountManagementPlugin from '../plugins/account-management.js'
import accountRoutes from '../routes/auth/account.js'
import adminUserRoutes from '../routes/admin/users.js'
import passkeysRoutes from '../routes/auth/passkeys.js'

export const BODY_LIMIT = 16 * 1024

/**
 * TRUST_PROXY as Fastify's trustProxy. Fastify 5.x treats a bare hop count as "trust
 * nothing" (it cannot tell a proxy from a client that connects directly), so a count
 * becomes the function proxy-addr understands: the socket peer and the next `hops - 1`
 * addresses written by proxies are trusted, the address before them is the client. Use a
 * count only when clients cannot reach the server except through those proxies.
 */
export function trustProxyOption (trust: boolean | number): boolean | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return trust
}

/**
 * Node's and Fastify's defaults let a client hold a connection open for as long as it
 * likes (requestTimeout 0), which the Fastify documentation warns against when no proxy
 * sits in front. The values, each configurable:
 * - headers within HTTP_HEADERS_TIMEOUT_MS (10 s): a client that trickles its header
 *   lines (slowloris) is answered 408 and let go;
 * - the whole request within HTTP_REQUEST_TIMEOUT_MS (30 s): bodies are at most 16 KiB,
 *   so an honest client on a slow link needs far less; both are checked every second
 *   instead of Node's default 30 s, so the limits hold to the second;
 * - an idle kept-alive connection stays HTTP_KEEP_ALIVE_TIMEOUT_MS (72 s, Fastify's
 *   default): longer than the idle timeout of the proxies in front (nginx 60 s, most load
 *   balancers 60 s), so the proxy closes first and never sends a request on a connection
 *   the server is closing (a 502);
 * - a socket with no traffic either way for HTTP_CONNECTION_TIMEOUT_MS (75 s) is
 *   destroyed: above the keep-alive time, so it only catches what the others miss.
 */
export function serverTimeouts (config: Config): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> & { http: ServerOptions } {
  return {
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: 1000 }
  }
}

/** Fastify's own options; the server and the tests create Fastify with these. */
export function serverOptions (config: Config): FastifyHttpOptions<Server> {
  return {
    logger: {
      level: config.logLevel,
      // Never log cookies, tokens or passwords: headers are not logged at all, and the
      // query string is dropped because emailed links carry their token there.
      serializers: {
        req: (req: { method: string, url: string, ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], ip: req.ip })
      }
    },
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxyOption(config.trustProxy),
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
    // Errors before routing (a bad URL, headers too large, a malformed request) are problem
    // documents too, never Fastify's own JSON.
    frameworkErrors,
    clientErrorHandler,
    // A body may not trickle in forever (Node answers 408 through clientErrorHandler and
    // closes the connection). Node reads requestTimeout when the server is created and
    // Fastify only assigns it afterwards, so it goes to http.createServer as well (without
    // that, a trickling body is never cut).
    ...serverTimeouts(config),
    return503OnClosing: true,
    forceCloseConnections: 'idle'
  }
}

/** The whole application as one plugin; it never listens. */
export default async function app (fastify: FastifyInstance, opts: { config: Config }): Promise<void> {
  fastify.setErrorHandler(errorHandler)

  await fastify.register(configPlugin, { config: opts.config })
  await fastify.register(jsonBodyPlugin)
  // Headers and CORS first, so every answer has them, even a 503 from a later hook.
  await fastify.register(securityHeadersPlugin)
  await fastify.register(corsPlugin)
  await fastify.register(redisPlugin)
  await fastify.register(eventsPlugin)
  await fastify.register(hasherPlugin)
  await fastify.register(mailerPlugin)
  await fastify.register(accountsPlugin)
  await fastify.register(eventMailPlugin)
  await fastify.register(tokensPlugin)
  await fastify.register(cookieGuardPlugin)
  await fastify.register(sessionPlugin)
  await fastify.register(rateLimitPlugin)
  await fastify.register(credentialRateLimitPlugin)
  // Rate-limited (as fastify/demo does) so a scanner walking paths gets 429s instead of a
  // log line per guess; a Redis outage lets 404s through rather than turning them to 503.
  fastify.setNotFoundHandler({ preHandler: fastify.rateLimit({ max: 30, timeWindow: 10_000, skipOnError: true }) },
    (request, reply) => sendProblem(reply, problem('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)))
  await fastify.register(authenticatePlugin)
  await fastify.register(recoveryPlugin)
  await fastify.register(loginThrottlePlugin)
  await fastify.register(deviceCookiePlugin)
  await fastify.register(mailRateLimitPlugin)
  await fastify.register(passkeysPlugin)
  await fastify.register(mfaPlugin)
  await fastify.register(docsPlugin)
  await fastify.register(demoPlugin)
  await fastify.register(metricsPlugin)
  await fastify.register(webhooksPlugin)
  await fastify.register(oauthPlugin)
  await fastify.register(emailCodePlugin)
  await fastify.register(accountManagementPlugin)

  await fastify.register(healthRoutes)
  await fastify.register(async (api) => {
    api.addHook('onRequest', api.requireRedis)
    // Sessions are read here only, after the Redis check: nothing outside /api waits on
    // Redis for a cookie it does not use. The CSRF check reads the session, so it comes
    // right after.
    await api.register(api.sessionCookies)
    await api.register(csrfPlugin)
    await api.register(async (auth) => {
      await auth.register(registerRoutes)
      await auth.register(sessionRoutes)
      await auth.register(sessionsRoutes)
      await auth.register(tokenRoutes)
      await auth.register(mfaRoutes)
      await auth.register(passwordRoutes)
      await auth.register(oauthRoutes)
      await auth.register(identitiesRoutes)
      await auth.register(activityRoutes)
      await auth.register(accountRoutes)
      await auth.register(passkeysRoutes)
      // EMAIL_CODE_SIGN_IN=false: the routes do not exist (404 NOT_FOUND).
      if (auth.config.emailCodeSignIn) await auth.register(emailCodeRoutes)
    }, { prefix: '/auth' })
    await api.register(async (admin) => {
      await admin.register(adminUserRoutes)
      await admin.register(adminActivityRoutes)
    }, { prefix: '/admin' })
  }, { prefix: '/api' })
}
