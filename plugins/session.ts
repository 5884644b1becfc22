import type { SignInMethod } from '../src/events/catalogue.js'
import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Cluster } from 'ioredis'
import { RedisSessionStore } from '../src/sessions/store.js'
import { RememberingSigner } from '../src/sessions/cookie-signer.js'
import { takePrefetchedUser, type SessionDeps } from '../src/sessions/lifecycle.js'
import type { User } from '../src/accounts/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionStore: RedisSessionStore
    /**
     * What the lifecycle functions take: src/sessions/lifecycle.ts (cookie sessions) and
     * src/tokens/lifecycle.ts (bearer token families).
     */
    sessions: SessionDeps
    /**
     * Reads and writes the session cookie: registered in the scope whose routes use
     * sessions (/api/auth), so health checks, metrics, docs and the demo page never wait
     * on Redis for a session a browser happens to send along.
     */
    sessionCookies: FastifyPluginAsync
  }
  interface Session {
    userId?: string
    createdAt?: number
    absoluteExpiresAt?: number
    lastSeenAt?: number
    ip?: string
    userAgent?: string
    /** the user's credential version when the session was begun (see User.credVersion) */
    cv?: number
    /** how it signed in; absent for a password */
    method?: SignInMethod
    /** set when read back from the store, which keeps the User-Agent text apart */
    userAgentRef?: string
  }
}

export default fp(async (app) => {
  const c = app.config
  const secure = c.secureCookies
  const sameSite = c.cookieSameSite.toLowerCase() as 'strict' | 'lax' | 'none'
  // A SameSite=None cookie serves an SPA on another site, where it is a third-party cookie:
  // Chromium blocks those unless they are Partitioned (CHIPS), keyed to the SPA's site.
  const partitioned = sameSite === 'none'
  const store = new RedisSessionStore(app.redis, {
    prefix: c.redisKeyPrefix,
    ttlMs: c.sessionTtlMs,
    absoluteTtlMs: c.sessionAbsoluteTtlMs,
    maxPerUser: c.maxSessionsPerUser,
    userKey: (id) => app.users.userKey(id),
    // With a single Redis the session read also returns the user's hash (one round trip per
    // authenticated request); a Cluster may keep the two keys on different nodes.
    prefetchUser: !(app.redis instanceof Cluster),
    // The sign-in that went over the maximum is not held up by the event.
    onEvicted: (userId, ended) => {
      app.events.emit({ type: 'session.ended', userId, data: { reason: 'session_limit', ended } }).catch(err => app.log.error({ err }, 'session.ended event failed'))
    }
  })
  const cookieName = c.sessionCookieName
  const cookieOptions = { httpOnly: true, path: '/', sameSite, secure, partitioned, domain: c.cookieDomain }
  const deps: SessionDeps = {
    sessionStore: store,
    tokenStore: app.tokenStore,
    users: app.users,
    secret: c.sessionSecret,
    cookie: { name: cookieName, options: cookieOptions },
    prefetched: new WeakMap<FastifyRequest, User | null>(),
    emit: app.events.emit
  }
  app.decorate('sessionStore', store)
  app.decorate('sessions', deps)

  app.decorate('sessionCookies', fp(async (scope: FastifyInstance) => {
    await scope.register(fastifyCookie)
    await scope.register(fastifySession, {
      // Verifies each cookie once and reuses the verified value instead of signing it again.
      secret: new RememberingSigner(c.sessionSecret),
      cookieName,
      store,
      idGenerator: () => store.newId(),
      saveUninitialized: false,
      // Sliding happens in the store's read script; rolling would rewrite the session on
      // every request.
      rolling: false,
      cookie: { ...cookieOptions, maxAge: c.sessionTtlMs }
    })

    // Runs right after @fastify/session's onRequest, in the same turn as the store's read.
    scope.addHook('onRequest', function prefetchedUser (request, _reply, done) {
      takePrefetchedUser(deps, request)
      done()
    })

    /*
     * @fastify/session writes the cookie with Expires only, and only when it saved the
     * session. The contract wants Max-Age and a cookie that slides with every authenticated
     * request, so this hook, which runs after the session's, writes the one session cookie.
     */
    // Callback style, and the attributes serialised once: this runs on every authenticated
    // response, and only the value changes from one to the next.
    const ownPrefix = `${cookieName}=`
    const attributes = scope.serializeCookie(cookieName, '', { ...cookieOptions, maxAge: c.sessionTtlMs / 1000 }).slice(ownPrefix.length)
    const noAttributes = {}
    scope.addHook('onSend', function slideSessionCookie (request, reply, payload, done) {
      const session = request.session as typeof request.session | null
      if (session?.userId !== undefined) {
        const cookie = scope.serializeCookie(cookieName, session.encryptedSessionId, noAttributes) + attributes
        const existing = reply.getHeader('set-cookie')
        if (existing === undefined) {
          reply.header('set-cookie', cookie)
        } else {
          const others = Array.isArray(existing) ? existing.map(String) : [String(existing)]
          reply.removeHeader('set-cookie')
          reply.header('set-cookie', [...others.filter(h => !h.startsWith(ownPrefix)), cookie])
        }
      }
      done(null, payload)
    })
  }, { name: 'session-cookies' }))
}, { name: 'session', dependencies: ['config', 'redis', 'tokens', 'accounts', 'events'] })
