import fp from 'fastify-plugin'
import { OAuthClients } from '../src/oauth/client.js'
import { FlowStore, HandoffStore } from '../src/oauth/flow.js'
import { IdentityStore } from '../src/oauth/identities.js'
import type { OAuthDeps } from '../src/oauth/sign-in.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/oauth/ take */
    oauth: OAuthDeps
  }
}

export default fp(async (app) => {
  const c = app.config
  const prefix = c.redisKeyPrefix
  const appOrigin = new URL(c.appOrigin).origin
  app.decorate('oauth', {
    users: app.users,
    identities: new IdentityStore(app.redis, prefix),
    mailer: app.mailer,
    log: app.log.child({ module: 'oauth' }),
    appOrigin,
    autoCreate: c.oauthAutoCreate,
    emit: app.events.emit,
    providers: new Map(c.oauthProviders.map(p => [p.id, p])),
    clients: new OAuthClients({ timeoutMs: c.oauthHttpTimeoutMs }),
    flows: new FlowStore(app.redis, prefix, c.oauthFlowTtlMs),
    handoffs: new HandoffStore(app.redis, prefix),
    redirectOrigin: c.oauthRedirectOrigin,
    allowedOrigins: new Set([appOrigin, ...c.corsOrigins])
  })
}, { name: 'oauth', dependencies: ['config', 'redis', 'accounts', 'mailer', 'events'] })
