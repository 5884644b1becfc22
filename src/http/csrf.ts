import { safeEqual } from '../crypto/secrets.js'

/** Methods a cross-site rule applies to (and that the OpenAPI document gives the CSRF header). */
export const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

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
 * The cross-site rule of docs/http-contract.md as a pure function (plugins/csrf.ts applies it). `Origin` decides when present
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
