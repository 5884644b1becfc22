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
  }
  interface FastifyRequest {
    user: User | null
    auth: RequestAuth | null
  }
}

export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.decorateRequest('auth', null)
  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
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
  })
}, { name: 'authenticate', dependencies: ['session', 'accounts', 'tokens'] })
