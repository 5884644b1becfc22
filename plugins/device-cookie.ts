import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { deviceOf, makeDeviceCookie } from '../src/accounts/device-cookie.js'
import { hmac } from '../src/crypto/secrets.js'
import { noteDevice } from '../src/events/store.js'
import type { SignInMethod } from '../src/events/catalogue.js'

/** What a sign-in route tells `signedIn`. */
export interface SignInFacts {
  method: SignInMethod
  /** `cookie`: a browser session (gets the device cookie); `token`: a bearer client */
  kind: 'cookie' | 'token'
  provider?: string
  /** a second factor was checked */
  mfa?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    devices: {
      /** `(userId) => device id` of this request's device cookie for that account, if valid */
      reader: (request: FastifyRequest) => (userId: string) => string | undefined
      /** gives the client a device cookie for `userId` after a successful sign-in; the device id */
      remember: (request: FastifyRequest, reply: FastifyReply, userId: string) => string
      /**
       * After every successful sign-in: the device cookie (cookie sign-ins), whether the device
       * is new to the account, and the `session.signed_in` event that says so.
       */
      signedIn: (request: FastifyRequest, reply: FastifyReply, userId: string, facts: SignInFacts) => Promise<void>
    }
  }
}

/** Only the sign-in routes read it, so the browser sends it nowhere else. */
const PATH = '/api/auth'
const NAME = 'gatehouseDevice'

export default fp(async (app) => {
  const c = app.config
  // A key of its own, derived from the session secret: a device cookie can never pass for a session.
  const key = hmac(c.sessionSecret, 'gatehouse device cookies')
  const maxAge = 180 * 86400
  const remember = (request: FastifyRequest, reply: FastifyReply, userId: string): string => {
    const known = deviceOf(key, request.cookies[NAME], userId)
    if (known !== undefined) return known
    const value = makeDeviceCookie(key, userId)
    reply.setCookie(NAME, value, {
      path: PATH,
      httpOnly: true,
      sameSite: 'strict',
      secure: c.secureCookies,
      maxAge
    })
    return deviceOf(key, value, userId)!
  }
  app.decorate('devices', {
    reader: (request: FastifyRequest) => (userId: string) => deviceOf(key, request.cookies[NAME], userId),
    remember,
    signedIn: async (request: FastifyRequest, reply: FastifyReply, userId: string, facts: SignInFacts) => {
      const known = deviceOf(key, request.cookies[NAME], userId)
      // A bearer client keeps no cookie: it is known by its user agent (an app names itself there).
      const device = facts.kind === 'cookie' ? `d:${remember(request, reply, userId)}` : known === undefined ? `ua:${request.headers['user-agent'] ?? ''}` : `d:${known}`
      let newDevice = false
      try {
        // A valid device cookie of the account proves the browser signed in to it before.
        newDevice = await noteDevice(app.redis, c.redisKeyPrefix, userId, device) && known === undefined
      } catch (err) {
        request.log.warn({ err: { message: (err as Error).message } }, 'sign-in device not noted')
      }
      await app.events.emit({ type: 'session.signed_in', userId, ...app.events.origin(request), data: { ...facts, mfa: facts.mfa ?? false, newDevice } })
    }
  })
}, { name: 'device-cookie', dependencies: ['config', 'session', 'redis', 'events'] })
