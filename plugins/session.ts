import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Cluster } from 'ioredis'
import { RedisSessionStore } from '../src/sessions/store.js'
import { digest, hmac, randomToken } from '../src/crypto/secrets.js'
import { userFromHash, type User } from '../src/accounts/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionStore: RedisSessionStore
    /**
     * Reads and writes the session cookie: register it in the scope whose routes use
     * sessions (/api/auth), so health checks, metrics, docs and the demo page never wait
     * on Redis for a session a browser happens to send along.
     */
    sessionCookies: FastifyPluginAsync
    sessions: {
      /** Replaces whatever session the request had with a new one for `user` (no fixation). */
      signIn: (request: FastifyRequest, user: User) => Promise<{ expiresAt: Date, csrfToken: string }>
      /** Deletes the request's session in Redis and expires the cookie. */
      signOut: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
      csrfToken: (request: FastifyRequest) => string
      /** digest of the request's session id: what the store and the index know it by */
      currentDigest: (request: FastifyRequest) => string | undefined
      /**
       * Ends every session and bearer token family of a user (except the session whose
       * digest, or the family whose id, is `keep`). Everything
       * that must end sessions (password reset and change, 2FA changes, logout-all,
       * disabling an account) goes through here, so new kinds of session are ended too.
       */
      endAll: (userId: string, keep?: string) => Promise<number>
      /**
       * Gives the request's signed-in session a new id, keeping its fields (user, creation
       * time, absolute expiry); the old id is deleted from Redis. After a password change.
       */
      rotate: (request: FastifyRequest) => Promise<{ expiresAt: Date, csrfToken: string }>
      /**
       * What `endAll(userId, keep)` must spare to end the user's *other* sessions: this
       * cookie session's digest, or this bearer token's family id.
       */
      currentKeep: (request: FastifyRequest) => string | undefined
      /**
       * The signed-in user as read in the same Redis round trip as the session (single
       * Redis only): a User, null if the account is gone, undefined if it was not read.
       */
      prefetchedUser: (request: FastifyRequest) => User | null | undefined
    }
  }
  interface Session {
    userId?: string
    createdAt?: number
    absoluteExpiresAt?: number
    lastSeenAt?: number
    ip?: string
    userAgent?: string
  }
}

export default fp(async (app) => {
  const c = app.config
  const secure = c.NODE_ENV === 'production' || c.COOKIE_SAMESITE === 'None'
  const sameSite = c.COOKIE_SAMESITE.toLowerCase() as 'strict' | 'lax' | 'none'
  // A SameSite=None cookie serves an SPA on another site, where it is a third-party cookie:
  // Chromium blocks those unless they are Partitioned (CHIPS), keyed to the SPA's site.
  const partitioned = sameSite === 'none'
  // With a single Redis the session read also returns the user's hash (one round trip per
  // authenticated request); a Cluster may keep the two keys on different nodes.
  const [before, after] = app.users.userKey('\u0000').split('\u0000')
  const store = new RedisSessionStore(app.redis, {
    prefix: c.REDIS_KEY_PREFIX,
    ttl: c.SESSION_TTL * 1000,
    absoluteTtl: c.SESSION_ABSOLUTE_TTL * 1000,
    userKey: app.redis instanceof Cluster ? undefined : { before, after }
  })
  app.decorate('sessionStore', store)

  const prefetched = new WeakMap<FastifyRequest, User | null>()
  const cookieName = c.SESSION_COOKIE_NAME
  const cookieOptions = { httpOnly: true, path: '/', sameSite, secure, partitioned, domain: c.COOKIE_DOMAIN }

  app.decorate('sessionCookies', fp(async (scope: FastifyInstance) => {
    await scope.register(fastifyCookie)
    await scope.register(fastifySession, {
      secret: c.SESSION_SECRET,
      cookieName: c.SESSION_COOKIE_NAME,
      store,
      // 256 bits, above the 128 the contract asks for.
      idGenerator: () => randomToken(32),
      saveUninitialized: false,
      // Sliding happens in the store's read script; rolling would rewrite the session on
      // every request.
      rolling: false,
      cookie: { httpOnly: true, path: '/', sameSite, secure, partitioned, domain: c.COOKIE_DOMAIN, maxAge: c.SESSION_TTL * 1000 }
    })

    // Runs right after @fastify/session's onRequest, in the same turn as the store's read:
    // moves the user hash read with the session onto this request.
    scope.addHook('onRequest', (request, _reply, done) => {
      const session = request.session as typeof request.session | null
      const userId = session?.userId
      if (userId !== undefined) {
        const flat = store.prefetched(session!.sessionId)
        if (flat !== undefined) {
          const user = userFromHash(flat)
          // Only a hash that belongs to this session's user is of use.
          if (user === null || user.id === userId) prefetched.set(request, user)
        }
      }
      done()
    })

    const ownPrefix = `${cookieName}=`

    /*
     * @fastify/session writes the cookie with Expires only, and only when it saved the
     * session. The contract wants Max-Age and a cookie that slides with every authenticated
     * request, so this hook, which runs after the session's, writes the one session cookie.
     */
    // Callback style and options built once: this runs on every authenticated response.
    const sessionCookieOptions = { ...cookieOptions, maxAge: c.SESSION_TTL }
    scope.addHook('onSend', (request, reply, payload, done) => {
      const session = request.session as typeof request.session | null
      if (session?.userId !== undefined) {
        const cookie = scope.serializeCookie(cookieName, session.encryptedSessionId, sessionCookieOptions)
        const existing = reply.getHeader('set-cookie')
        if (existing === undefined) {
          reply.header('set-cookie', [cookie])
        } else {
          const others = Array.isArray(existing) ? existing.map(String) : [String(existing)]
          reply.removeHeader('set-cookie')
          reply.header('set-cookie', [...others.filter(h => !h.startsWith(ownPrefix)), cookie])
        }
      }
      done(null, payload)
    })
  }, { name: 'session-cookies' }))

  const csrfToken = (request: FastifyRequest): string => hmac(c.SESSION_SECRET, `csrf:${digest(request.session.sessionId)}`)
  const currentDigest = (request: FastifyRequest): string | undefined => {
    const session = request.session as typeof request.session | null
    return session?.userId === undefined ? undefined : digest(session.sessionId)
  }

  app.decorate('sessions', {
    async signIn (request: FastifyRequest, user: User) {
      // regenerate() deletes the old id from Redis and issues a new one.
      await request.session.regenerate()
      const now = Date.now()
      const s = request.session
      s.userId = user.id
      s.createdAt = now
      s.lastSeenAt = now
      s.absoluteExpiresAt = now + store.absoluteTtl
      s.ip = request.ip
      s.userAgent = (request.headers['user-agent'] ?? '').slice(0, 256)
      await s.save()
      return { expiresAt: store.expiresAt({ absoluteExpiresAt: s.absoluteExpiresAt }, now), csrfToken: csrfToken(request) }
    },
    async signOut (request: FastifyRequest, reply: FastifyReply) {
      const session = request.session as typeof request.session | null
      if (session?.userId !== undefined) await session.destroy()
      reply.clearCookie(cookieName, cookieOptions)
    },
    csrfToken,
    async endAll (userId: string, keep?: string) {
      // Bearer token families are sessions too; `keep` may name either kind (a session
      // digest, or a family id: request.auth.familyId of a bearer request).
      const [sessions, families] = await Promise.all([store.destroyAllForUser(userId, keep), app.tokenStore.endAllForUser(userId, keep)])
      return sessions + families
    },
    async rotate (request: FastifyRequest) {
      const old = request.session
      if (old.userId === undefined) throw new Error('rotate() needs a signed-in session')
      // regenerate(keys) copies these fields into the new session, deletes the old id
      // from the store and saves the new one.
      const now = Date.now()
      old.lastSeenAt = now
      await old.regenerate(['userId', 'createdAt', 'absoluteExpiresAt', 'lastSeenAt', 'ip', 'userAgent'])
      const s = request.session
      return { expiresAt: store.expiresAt({ absoluteExpiresAt: s.absoluteExpiresAt ?? now }, now), csrfToken: csrfToken(request) }
    },
    currentKeep (request: FastifyRequest) {
      return request.auth?.kind === 'bearer' ? request.auth.familyId : currentDigest(request)
    },
    prefetchedUser (request: FastifyRequest) {
      return prefetched.has(request) ? prefetched.get(request) : undefined
    },
    currentDigest
  })
}, { name: 'session', dependencies: ['config', 'redis', 'tokens', 'accounts'] })
