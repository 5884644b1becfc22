import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { TokenStore, type IssuedTokens } from '../src/tokens/store.js'
import { AuthError } from '../src/http/errors.js'
import type { User } from '../src/accounts/users.js'

/** The body of a token grant, as POST /token and POST /token/refresh answer. */
export interface TokenGrant {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
  expiresAt: string
  refreshToken: string
}

declare module 'fastify' {
  interface FastifyInstance {
    tokenStore: TokenStore
    tokens: {
      /**
       * Starts a token family for `user`, whose credentials (and, with 2FA, second factor)
       * have been checked. POST /token calls it; a 2FA step for token logins calls it too.
       */
      signIn: (request: FastifyRequest, user: User) => Promise<TokenGrant>
      /** Spends `refreshToken` and issues the next pair; reuse of a spent one ends its family. */
      refresh: (request: FastifyRequest, refreshToken: string) => Promise<TokenGrant>
    }
  }
}

function grant (t: IssuedTokens): TokenGrant {
  return { accessToken: t.accessToken, tokenType: 'Bearer', expiresIn: t.expiresIn, expiresAt: t.expiresAt.toISOString(), refreshToken: t.refreshToken }
}

export default fp(async (app) => {
  const store = new TokenStore(app.redis, {
    prefix: app.config.REDIS_KEY_PREFIX,
    accessTtl: app.config.ACCESS_TOKEN_TTL * 1000,
    refreshTtl: app.config.REFRESH_TOKEN_TTL * 1000,
    // Capped like a cookie session: each refresh no longer grants another 30 days.
    absoluteTtl: app.config.SESSION_ABSOLUTE_TTL * 1000
  })
  app.decorate('tokenStore', store)
  app.decorate('tokens', {
    async signIn (request: FastifyRequest, user: User) {
      // The credential version of the record the password was checked against (see User.credVersion).
      const issued = await store.issue(user.id, { ip: request.ip, userAgent: request.headers['user-agent'] ?? '' }, user.credVersion)
      request.log.info({ userId: user.id, familyId: issued.familyId }, 'token login')
      return grant(issued)
    },
    async refresh (request: FastifyRequest, refreshToken: string) {
      const spent = await store.spend(refreshToken)
      if (!spent.ok) {
        if (spent.reason === 'reused') request.log.warn({ userId: spent.userId, familyId: spent.familyId }, 'spent refresh token presented again; token family ended')
        throw new AuthError('UNAUTHENTICATED', 'The refresh token is invalid, expired or already used.')
      }
      const user = await app.users.findById(spent.userId)
      const stale = user !== null && spent.cv !== user.credVersion &&
        await store.familyCredentials(spent.userId, spent.familyId) !== user.credVersion
      if (user === null || user.disabled || stale) {
        await store.endFamily(spent.userId, spent.familyId)
        throw new AuthError('UNAUTHENTICATED', 'The refresh token is invalid, expired or already used.')
      }
      const next = await store.rotate(spent.userId, spent.familyId, refreshToken, user.credVersion)
      if (next === null) throw new AuthError('UNAUTHENTICATED', 'The refresh token is invalid, expired or already used.')
      return grant(next)
    }
  })
}, { name: 'tokens', dependencies: ['config', 'redis', 'accounts'] })
