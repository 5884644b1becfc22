import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { digest } from '../src/crypto/secrets.js'
import { normalizeEmail } from '../src/accounts/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler for routes that mail the address in `body.email`: at most
     * EMAIL_ADDRESS_RATE_LIMIT requests per EMAIL_ADDRESS_RATE_WINDOW per address, counted
     * in one bucket across those routes, so nobody can bomb one mailbox.
     */
    limitMailPerAddress: (request: FastifyRequest) => Promise<void>
  }
}

/*
 * Counts requests per target address whether or not it belongs to an account, so the 429
 * comes after the same number of requests for any address and tells nothing about it. The
 * key holds a digest of the normalised address, not the address. It runs as a preHandler
 * (after body validation), next to the per-IP limit each route sets in config.rateLimit;
 * @fastify/rate-limit runs one route hook per request, so this one uses createRateLimit.
 */
export default fp(async (app) => {
  const check = app.createRateLimit({
    max: app.config.emailAddressRateLimit,
    timeWindow: app.config.emailAddressRateWindowMs,
    keyGenerator: (request) => {
      const email = (request.body as { email?: unknown } | undefined)?.email
      return `mail-to:${digest(normalizeEmail(typeof email === 'string' ? email : ''))}`
    }
  })
  app.decorate('limitMailPerAddress', async (request: FastifyRequest) => {
    const result = await check(request)
    if (!result.isAllowed && result.isExceeded) {
      throw new AuthError('RATE_LIMITED', 'Too many emails requested for this address; try again later.', { retryAfter: Math.max(1, result.ttlInSeconds) })
    }
  })
}, { name: 'mail-rate-limit', dependencies: ['config', 'rate-limit'] })
