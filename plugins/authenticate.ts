import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../src/errors.js'
import type { User } from '../src/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The guard protected routes name in `onRequest`. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    user: User | null
  }
}

export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    const session = request.session as typeof request.session | null
    const userId = session?.userId
    if (userId === undefined) throw new AuthError('UNAUTHENTICATED')
    // Usually read with the session in one Redis round trip; otherwise one more command.
    const prefetched = app.sessions.prefetchedUser(request)
    const user = prefetched !== undefined ? prefetched : await app.users.findById(userId)
    if (user === null || user.disabled) {
      // The account is gone or was disabled since this session began: end the session.
      await app.sessions.signOut(request, reply)
      throw new AuthError('UNAUTHENTICATED')
    }
    request.user = user
  })
}, { name: 'authenticate', dependencies: ['session', 'accounts'] })
