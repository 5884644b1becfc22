import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { safeEqual } from '../src/crypto/secrets.js'
import { csrfToken } from '../src/sessions/lifecycle.js'

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** `scheme://host[:port]` as browsers send it in Origin (lower case, no default port). */
export function canonicalOrigin (origin: string): string | null {
  try {
    const u = new URL(origin)
    return u.origin === 'null' ? null : u.origin
  } catch {
    return null
  }
}

export type CsrfVerdict = 'pass' | 'foreign-origin' | 'cross-site' | 'missing-token' | 'bad-token'

/**
 * The cross-site rule of CONTRACT.md as a pure function. `Origin` decides when present
 * (an unparsable or `null` Origin is foreign); lacking it, `Sec-Fetch-Site` must say
 * `same-origin` (or `none`: the user typed the address). A request with neither header is
 * not a browser's cross-site request and passes. With SameSite=None the cookie is sent
 * cross-site, so a live session must also prove it read its csrfToken.
 */
export function csrfVerdict (headers: { origin?: string, secFetchSite?: string, token?: string }, allowed: ReadonlySet<string>, expectedToken: string | undefined): CsrfVerdict {
  if (headers.origin !== undefined) {
    const o = canonicalOrigin(headers.origin)
    if (o === null || !allowed.has(o)) return 'foreign-origin'
  } else if (headers.secFetchSite !== undefined && headers.secFetchSite !== 'same-origin' && headers.secFetchSite !== 'none') {
    return 'cross-site'
  }
  if (expectedToken !== undefined) {
    if (headers.token === undefined) return 'missing-token'
    if (!safeEqual(headers.token, expectedToken)) return 'bad-token'
  }
  return 'pass'
}

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

/**
 * Refuses (403 CSRF_REJECTED) a state-changing request that carries the session cookie
 * when it comes from anywhere but APP_ORIGIN or a CORS_ORIGINS entry. Requests without the
 * cookie (a first login, a bearer-token client) carry no ambient authority and are left
 * alone; so is every GET, HEAD and OPTIONS.
 */
export default fp(async (app) => {
  const c = app.config
  const allowed = new Set([new URL(c.appOrigin).origin, ...c.corsOrigins])
  const cookieName = c.sessionCookieName
  const tokenRequired = c.cookieSameSite === 'None'

  app.addHook('onRequest', async (request) => {
    if (!STATE_CHANGING.has(request.method)) return
    if (request.cookies?.[cookieName] === undefined) return
    const session = request.session as typeof request.session | null
    // Only a live session has a token to check; a stale cookie is as good as none.
    const expected = tokenRequired && session?.userId !== undefined ? csrfToken(app.sessions, request) : undefined
    const verdict = csrfVerdict({ origin: header(request, 'origin'), secFetchSite: header(request, 'sec-fetch-site'), token: header(request, 'x-csrf-token') }, allowed, expected)
    if (verdict === 'pass') return
    request.log.warn({ verdict }, 'cross-site request refused')
    throw new AuthError('CSRF_REJECTED', verdict === 'missing-token' || verdict === 'bad-token'
      ? 'Send the csrfToken from /login or /me in the X-CSRF-Token header.'
      : 'State-changing requests with the session cookie are accepted only from the configured origins.')
  })
}, { name: 'csrf', dependencies: ['config', 'session'] })
