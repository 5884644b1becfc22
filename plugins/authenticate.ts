import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import type { User } from '../src/accounts/users.js'

/**
 * How a request was authenticated. A CSRF check applies to `session` only: a bearer token
 * is never sent by a browser on its own, so a bearer request cannot be forged cross-site.
 */
export type RequestAuth =
  | { kind: 'session' }
  | { kind: 'bearer', familyId: string, expiresAt: Date }

declare module 'fastify' {
  interface FastifyInstance {
    /** The guard protected routes name in `onRequest`. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    user: User | null
    auth: RequestAuth | null
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined without that scheme. */
export function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  // Scanned by hand, not by a regex: `^Bearer[ \t]+(\S*)[ \t]*$` backtracks quadratically
  // on "Bearer" + many spaces + a non-space, and the header is the client's to choose.
  if (header.slice(0, 6).toLowerCase() !== 'bearer') return undefined
  const n = header.length
  if (n > 6 && /\w/.test(header[6])) return undefined
  let i = 6
  while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
  // "Bearer" with nothing usable after it is still a bearer attempt, and must fail as one.
  if (i === 6) return ''
  let j = i
  while (j < n && !/\s/.test(header[j])) j++
  let k = j
  while (k < n && (header[k] === ' ' || header[k] === '\t')) k++
  return k === n ? header.slice(i, j) : ''
}

export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.decorateRequest('auth', null)
  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request)
    if (token !== undefined) {
      // A request that presents a bearer token is judged by it alone, cookie or not.
      const grant = await app.tokenStore.authenticate(token)
      if (grant === null) throw new AuthError('UNAUTHENTICATED', 'The access token is invalid or expired.')
      const user = await app.users.findById(grant.userId)
      // Begun under other credentials (a reset, a password or 2FA change since): the family
      // dies, unless it is the one the change was made with (its family records the new version).
      const stale = user !== null && grant.cv !== user.credVersion &&
        await app.tokenStore.familyCredentials(grant.userId, grant.familyId) !== user.credVersion
      if (user === null || user.disabled || stale) {
        await app.tokenStore.endFamily(grant.userId, grant.familyId)
        throw new AuthError('UNAUTHENTICATED')
      }
      request.user = user
      request.auth = { kind: 'bearer', familyId: grant.familyId, expiresAt: grant.expiresAt }
      return
    }
    const session = request.session as typeof request.session | null
    const userId = session?.userId
    if (userId === undefined) throw new AuthError('UNAUTHENTICATED')
    // Usually read with the session in one Redis round trip; otherwise one more command.
    const prefetched = app.sessions.prefetchedUser(request)
    const user = prefetched !== undefined ? prefetched : await app.users.findById(userId)
    if (user === null || user.disabled || (session!.cv ?? 0) !== user.credVersion) {
      // The account is gone or was disabled since this session began, or the session was
      // begun under credentials that have changed since: end the session.
      await app.sessions.signOut(request, reply)
      throw new AuthError('UNAUTHENTICATED')
    }
    request.user = user
    request.auth = { kind: 'session' }
  })
}, { name: 'authenticate', dependencies: ['session', 'accounts', 'tokens'] })
