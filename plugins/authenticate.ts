import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import type { User } from '../src/accounts/users.js'
import { validateSession, type RequestAuth } from '../src/sessions/lifecycle.js'
import { authenticateBearer, bearerToken } from '../src/tokens/lifecycle.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The guard protected routes name in `onRequest`. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** The guard of /api/admin routes: `authenticate`, then 403 FORBIDDEN unless the user is an admin. */
    authenticateAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    user: User | null
    auth: RequestAuth | null
  }
}

export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.decorateRequest('auth', null)
  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request)
    if (token !== undefined) {
      // A request that presents a bearer token is judged by it alone, cookie or not.
      const { user, grant } = await authenticateBearer(app.sessions, token)
      request.user = user
      request.auth = { kind: 'bearer', familyId: grant.familyId, expiresAt: grant.expiresAt }
      return
    }
    const user = await validateSession(app.sessions, request, reply)
    if (user === null) throw new AuthError('UNAUTHENTICATED')
    request.user = user
    request.auth = { kind: 'session' }
  }
  app.decorate('authenticate', authenticate)
  // The role is read from the user record on every request (authenticate loads it), so a
  // demoted admin loses the API at their next call, not when their session ends.
  app.decorate('authenticateAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
    await authenticate(request, reply)
    if (request.user?.role !== 'admin') throw new AuthError('FORBIDDEN')
  })
}, { name: 'authenticate', dependencies: ['session', 'accounts', 'tokens'] })
