/*
 * Baseline "the floor": the least a Redis-backed opaque session can cost on Fastify. A
 * random 256-bit id in a cookie (not signed: it is unguessable), Redis keyed by its
 * SHA-256, and GET /me is one GET of that key. No plugin besides Fastify itself.
 */
import Fastify from 'fastify'
import { createHash, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { checkLogin, ME_BODY, PORT, REDIS_URL, stopOnSigterm, TTL_MS, UNAUTHENTICATED, type LoginBody } from './common.js'

const PREFIX = 'floor:'
const redis = new Redis(REDIS_URL)
const keyOf = (id: string): string => PREFIX + createHash('sha256').update(id).digest('hex')
const cookieOf = (header: string | undefined): string | undefined => header === undefined ? undefined : /(?:^|;\s*)sid=([^;]+)/.exec(header)?.[1]

const app = Fastify({ logger: false })
app.get('/api/auth/me', async (request, reply) => {
  const id = cookieOf(request.headers.cookie)
  const userId = id === undefined ? null : await redis.get(keyOf(id))
  if (userId === null) return await reply.code(401).send(UNAUTHENTICATED)
  return ME_BODY
})
app.post('/api/auth/login', async (request, reply) => {
  const record = await checkLogin(async key => await redis.get(key), request.body as LoginBody)
  if (record === null) return await reply.code(401).send(UNAUTHENTICATED)
  const id = randomBytes(32).toString('base64url')
  await redis.set(keyOf(id), record.id, 'PX', TTL_MS)
  reply.header('set-cookie', `sid=${id}; Max-Age=${TTL_MS / 1000}; Path=/; HttpOnly; SameSite=Strict`)
  return { message: 'Login successful', user: record.user }
})
await app.listen({ port: PORT, host: '127.0.0.1' })
stopOnSigterm(async () => { await app.close(); redis.disconnect() })
