import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { csrfVerdict, STATE_CHANGING } from '../src/http/csrf.js'
import { csrfToken } from '../src/sessions/lifecycle.js'

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

/**
 * Refuses (403 CSRF_REJECTED) a state-changing request that carries the session cookie
 * when it comes from anywhere but the allowed origins (APP_ORIGIN, the API's own, CORS_ORIGINS). Requests without the
 * cookie (a first login, a bearer-token client) carry no ambient authority and are left
 * alone; so is every GET, HEAD and OPTIONS.
 */
export default fp(async (app) => {
  const c = app.config
  const allowed = new Set(c.allowedOrigins)
  const cookieName = c.sessionCookieName
  const tokenRequired = c.cookieSameSite === 'None'

  // Callback style: every request passes here, and most (GET) leave at once.
  app.addHook('onRequest', function refuseCrossSite (request, _reply, done) {
    if (!STATE_CHANGING.has(request.method) || request.cookies?.[cookieName] === undefined) {
      done()
      return
    }
    const session = request.session as typeof request.session | null
    // Only a live session has a token to check; a stale cookie is as good as none.
    const expected = tokenRequired && session?.userId !== undefined ? csrfToken(app.sessions, request) : undefined
    const verdict = csrfVerdict({ origin: header(request, 'origin'), secFetchSite: header(request, 'sec-fetch-site'), token: header(request, 'x-csrf-token') }, allowed, expected)
    if (verdict === 'pass') {
      done()
      return
    }
    // Which origin came and which would have passed: a misconfigured APP_ORIGIN or
    // CORS_ORIGINS is then one log line away from obvious.
    request.log.warn({ verdict, origin: header(request, 'origin') ?? null, secFetchSite: header(request, 'sec-fetch-site') ?? null, allowed: c.allowedOrigins }, 'cross-site request refused')
    done(new AuthError('CSRF_REJECTED', verdict === 'missing-token' || verdict === 'bad-token'
      ? 'Send the csrfToken from /login or /me in the X-CSRF-Token header.'
      : 'State-changing requests with the session cookie are accepted only from the configured origins.'))
  })
}, { name: 'csrf', dependencies: ['config', 'session', 'session-cookies'] })
