/*
 * Baseline "@fastify/session + connect-redis", set up as connect-redis's README does:
 * node-redis's createClient, `new RedisStore({ client, prefix })`, `saveUninitialized:
 * false`, everything else at @fastify/session's defaults (so `rolling: true`: every
 * answer saves the session and sets the cookie). Two changes only, so that it can be
 * compared: a 7-day cookie (Gatehouse's lifetime; the README leaves it to the session
 * default) and `secure: false`, because the bench speaks plain http.
 */
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { checkLogin, ME_BODY, PORT, REDIS_URL, SECRET, stopOnSigterm, TTL_MS, UNAUTHENTICATED, type LoginBody } from './common.js'

declare module 'fastify' {
  interface Session { userId?: string }
}

const redisClient = createClient({ url: REDIS_URL })
await redisClient.connect()
const redisStore = new RedisStore({ client: redisClient, prefix: 'cr:' })

const app = Fastify({ logger: false })
await app.register(fastifyCookie)
await app.register(fastifySession, {
  // connect-redis implements express-session's Store: get/set/destroy with callbacks,
  // which is the interface @fastify/session calls.
  store: redisStore as unknown as fastifySession.SessionStore,
  saveUninitialized: false,
  secret: SECRET,
  cookie: { secure: false, maxAge: TTL_MS }
})
app.get('/api/auth/me', async (request, reply) => {
  if (request.session.userId === undefined) return await reply.code(401).send(UNAUTHENTICATED)
  return ME_BODY
})
app.post('/api/auth/login', async (request, reply) => {
  const record = await checkLogin(async key => await redisClient.get(key), request.body as LoginBody)
  if (record === null) return await reply.code(401).send(UNAUTHENTICATED)
  await request.session.regenerate()
  request.session.userId = record.id
  return { message: 'Login successful', user: record.user }
})
await app.listen({ port: PORT, host: '127.0.0.1' })
stopOnSigterm(async () => { await app.close(); await redisClient.quit() })
