import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { digest } from '../src/crypto/secrets.js'
import { normalizeEmail } from '../src/accounts/users.js'
import { clientKey } from '../src/http/client-address.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler for routes that mail the address in `body.email` (`body.newEmail` for an
     * email change): at most
     * EMAIL_ADDRESS_RATE_LIMIT requests per EMAIL_ADDRESS_RATE_WINDOW per address (verification
     * mails in one bucket; reset links and sign-in codes each in budgets of their own, below),
     * so nobody can bomb one mailbox.
     */
    limitMailPerAddress: (request: FastifyRequest) => Promise<void>
  }
}

/*
 * Counts requests per target address whether or not it belongs to an account, so the 429
 * comes after the same number of requests for any address and tells nothing about it. Keys
 * hold a digest of the normalised address, not the address. It runs as a preHandler (after
 * body validation), next to the per-IP limit each route sets in config.rateLimit;
 * @fastify/rate-limit runs one route hook per request, so this one uses createRateLimit.
 *
 * The owner's way back in must stay possible whatever others send: a password-reset request
 * and an email sign-in code each have budgets of their own (neither spends the budget of
 * verification mails, registrations and resends, nor the other's), counted per address and
 * client (IPv6 per /64), so a stranger's requests do not spend the owner's. A cap per address
 * over all clients (four budgets) still bounds what a stranger with many addresses can send
 * one mailbox; a client holding a device cookie of the account (it signed in there before)
 * is exempt from that cap, and keeps its own budget.
 */
export default fp(async (app) => {
  const limit = app.config.emailAddressRateLimit
  const timeWindow = app.config.emailAddressRateWindowMs
  const addressOf = (request: FastifyRequest): string => {
    const body = request.body as { email?: unknown, newEmail?: unknown } | undefined
    const email = body?.email ?? body?.newEmail
    return digest(normalizeEmail(typeof email === 'string' ? email : ''))
  }
  const verifyMail = app.createRateLimit({ max: limit, timeWindow, keyGenerator: (request) => `mail-to:${addressOf(request)}` })
  /** The budgets of a way back in (`reset`, `code`): per address and client, and per address. */
  const wayBackIn = (kind: string) => ({
    perClient: app.createRateLimit({ max: limit, timeWindow, keyGenerator: (request) => `mail-to:${kind}:${addressOf(request)}:${clientKey(request.ip)}` }),
    perAddress: app.createRateLimit({ max: limit * 4, timeWindow, keyGenerator: (request) => `mail-to:${kind}:${addressOf(request)}` })
  })
  const reset = wayBackIn('reset')
  const code = wayBackIn('code')
  const refuse = (ttl: number): never => {
    throw new AuthError('RATE_LIMITED', 'Too many emails requested for this address; try again later.', { retryAfter: Math.max(1, ttl) })
  }
  app.decorate('limitMailPerAddress', async (request: FastifyRequest) => {
    const url = request.routeOptions.url ?? ''
    const budgets = url.endsWith('/password/forgot') ? reset : url.endsWith('/email-code/request') ? code : undefined
    if (budgets === undefined) {
      const result = await verifyMail(request)
      if (!result.isAllowed && result.isExceeded) refuse(result.ttlInSeconds)
      return
    }
    const own = await budgets.perClient(request)
    if (!own.isAllowed && own.isExceeded) refuse(own.ttlInSeconds)
    const email = (request.body as { email?: unknown } | undefined)?.email
    const userId = typeof email === 'string' ? await app.users.idByLogin(email) : null
    if (userId !== null && app.devices.reader(request)(userId) !== undefined) return
    const all = await budgets.perAddress(request)
    if (!all.isAllowed && all.isExceeded) refuse(all.ttlInSeconds)
  })
}, { name: 'mail-rate-limit', dependencies: ['config', 'rate-limit', 'accounts', 'device-cookie'] })
