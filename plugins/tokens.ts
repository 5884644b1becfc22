import fp from 'fastify-plugin'
import { TokenStore } from '../src/tokens/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Bearer token families. The functions of src/tokens/lifecycle.ts take `app.sessions`,
     * which holds this store beside the session store: a token family is a session too.
     */
    tokenStore: TokenStore
  }
}

export default fp(async (app) => {
  app.decorate('tokenStore', new TokenStore(app.redis, {
    prefix: app.config.redisKeyPrefix,
    accessTtl: app.config.accessTokenTtlMs,
    refreshTtl: app.config.refreshTokenTtlMs
  }))
}, { name: 'tokens', dependencies: ['config', 'redis'] })
