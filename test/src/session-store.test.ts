import t from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { RedisSessionStore } from '../../src/session-store.js'
import { randomToken } from '../../src/tokens.js'

const session = (userId: string, now = Date.now()): Record<string, unknown> => ({
  userId, createdAt: now, lastSeenAt: now, absoluteExpiresAt: now + 3_600_000, ip: '203.0.113.7', userAgent: 'test agent'
})

t.test('a read with userKey hands out the user hash read with the session, once', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttl: 60_000, absoluteTtl: 3_600_000, userKey: { before: 't:user:{', after: '}' } })
  await redis.hset('t:user:{u1}', { id: 'u1', email: 'a@example.com' })
  const id = randomToken()
  await store.write(id, session('u1'))
  const s = await store.read(id)
  t.equal(s?.userId, 'u1')
  const flat = store.takePrefetched(id)
  t.same(flat, ['id', 'u1', 'email', 'a@example.com'])
  t.equal(store.takePrefetched(id), undefined, 'handed out once')
})

t.test('an untaken prefetched hash is dropped on the next turn of the event loop', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttl: 60_000, absoluteTtl: 3_600_000, userKey: { before: 't:user:{', after: '}' } })
  const id = randomToken()
  await store.write(id, session('gone'))
  await store.read(id)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(store.takePrefetched(id), undefined)
})

t.test('a missing user reads as an empty hash and a missing session as null', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttl: 60_000, absoluteTtl: 3_600_000, userKey: { before: 't:user:{', after: '}' } })
  const id = randomToken()
  await store.write(id, session('nobody'))
  t.equal((await store.read(id))?.userId, 'nobody')
  t.same(store.takePrefetched(id), [])
  t.equal(await store.read(randomToken()), null)
})

t.test('without userKey nothing is prefetched', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttl: 60_000, absoluteTtl: 3_600_000 })
  await redis.hset('t:user:{u1}', { id: 'u1' })
  const id = randomToken()
  await store.write(id, session('u1'))
  t.equal((await store.read(id))?.userId, 'u1')
  t.equal(store.takePrefetched(id), undefined)
})
