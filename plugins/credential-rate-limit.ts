import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { clientKey } from '../src/http/client-address.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler of every route that checks a password or a second factor (/login, /token,
     * /mfa/verify, /password/change, the /2fa routes): LOGIN_RATE_LIMIT checks a minute per
     * client (IPv6 per /64), one count across all of them, so moving from /login to /token
     * or /mfa/verify buys a client nothing.
     */
    limitCredentialChecks: (request: FastifyRequest) => Promise<void>
  }
}

export default fp(async (app) => {
  const check = app.createRateLimit({
    max: app.config.loginRateLimit,
    timeWindow: 60_000,
    keyGenerator: (request) => `credential-checks:${clientKey(request.ip)}`
  })
  app.decorate('limitCredentialChecks', async (request: FastifyRequest) => {
    const result = await check(request)
    if (!result.isAllowed && result.isExceeded) {
      throw new AuthError('RATE_LIMITED', 'Too many attempts from this address; try again in a minute.', { retryAfter: Math.max(1, result.ttlInSeconds) })
    }
  })
}, { name: 'credential-rate-limit', dependencies: ['config', 'rate-limit'] })
