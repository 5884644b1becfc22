/*
 * Baseline "lean @fastify/session": the plugin Gatehouse builds on, with the leanest
 * ioredis store that keeps Gatehouse's key design (prefix + SHA-256 of the id): one GET
 * per read and nothing else, `rolling: false`, so GET /me never writes. What our own design
 * could reach with @fastify/session if everything Gatehouse adds cost nothing.
 */
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { checkLogin, ME_BODY, PORT, REDIS_URL, SECRET, stopOnSigterm, TTL_MS, UNAUTHENTICATED, type LoginBody } from './common.js'

declare module 'fastify' {
  interface Session { userId?: string }
}

type Callback = (err?: Error | null, value?: any) => void

class LeanStore {
  constructor (private readonly redis: Redis, private readonly prefix: string) {}
  key (id: string): string { return this.prefix + createHash('sha256').update(id).digest('hex') }
  get (id: string, cb: Callback): void {
    this.redis.get(this.key(id)).then(v => cb(null, v === null ? null : JSON.parse(v)), cb)
  }

  set (id: string, session: object, cb: Callback): void {
    this.redis.set(this.key(id), JSON.stringify(session), 'PX', TTL_MS).then(() => cb(), cb)
  }

  destroy (id: string, cb: Callback): void {
    this.redis.del(this.key(id)).then(() => cb(), cb)
  }
}

const redis = new Redis(REDIS_URL)
const app = Fastify({ logger: false })
await app.register(fastifyCookie)
await app.register(fastifySession, {
  secret: SECRET,
  store: new LeanStore(redis, 'lean:'),
  saveUninitialized: false,
  rolling: false,
  // Plain http on the bench: a Secure cookie would never be saved by @fastify/session.
  cookie: { httpOnly: true, path: '/', sameSite: 'strict', secure: false, maxAge: TTL_MS }
})
app.get('/api/auth/me', async (request, reply) => {
  if (request.session.userId === undefined) return await reply.code(401).send(UNAUTHENTICATED)
  return ME_BODY
})
app.post('/api/auth/login', async (request, reply) => {
  const record = await checkLogin(async key => await redis.get(key), request.body as LoginBody)
  if (record === null) return await reply.code(401).send(UNAUTHENTICATED)
  await request.session.regenerate()
  request.session.userId = record.id
  return { message: 'Login successful', user: record.user }
})
await app.listen({ port: PORT, host: '127.0.0.1' })
stopOnSigterm(async () => { await app.close(); redis.disconnect() })
