import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { deviceOf, makeDeviceCookie } from '../src/accounts/device-cookie.js'
import { hmac } from '../src/crypto/secrets.js'

declare module 'fastify' {
  interface FastifyInstance {
    devices: {
      /** `(userId) => device id` of this request's device cookie for that account, if valid */
      reader: (request: FastifyRequest) => (userId: string) => string | undefined
      /** gives the client a device cookie for `userId` after a successful sign-in */
      remember: (request: FastifyRequest, reply: FastifyReply, userId: string) => void
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
  app.decorate('devices', {
    reader: (request: FastifyRequest) => (userId: string) => deviceOf(key, request.cookies[NAME], userId),
    remember: (request: FastifyRequest, reply: FastifyReply, userId: string) => {
      if (deviceOf(key, request.cookies[NAME], userId) !== undefined) return
      reply.setCookie(NAME, makeDeviceCookie(key, userId), {
        path: PATH,
        httpOnly: true,
        sameSite: 'strict',
        secure: c.secureCookies,
        maxAge
      })
    }
  })
}, { name: 'device-cookie', dependencies: ['config', 'session'] })
