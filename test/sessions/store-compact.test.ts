import t from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { decodeSession as decode, userAgentRef } from '../../src/sessions/record.js'
import { randomToken } from '../../src/crypto/secrets.js'
import { USER_FIELDS, userFromFields } from '../../src/accounts/users.js'

const session = (userId: string, now = Date.now()): Record<string, unknown> => ({
  userId, createdAt: now, lastSeenAt: now, absoluteExpiresAt: now + 3_600_000, ip: '203.0.113.7', userAgent: 'test agent'
})

/** Sessions are kept only for users that exist (user-index.ts): a minimal record. */
async function userRecord (redis: Redis, id: string): Promise<void> {
  await redis.hset(`t:user:{${id}}`, 'id', id)
}

t.test('a read with userKey hands out the user read with the session in the same turn', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000, prefetchUser: true })
  await redis.hset('t:user:{u1}', { id: 'u1', email: 'a@example.com' })
  const id = randomToken()
  await store.write(id, session('u1'))
  const s = await store.read(id)
  t.equal(s?.userId, 'u1')
  // The values of USER_FIELDS, in order: the session index and other fields stay behind.
  await redis.hset('t:user:{u1}', { sessions: 'x'.repeat(28), other: 'not a user field' })
  await store.read(id)
  const expected = USER_FIELDS.map(f => f === 'id' ? 'u1' : f === 'email' ? 'a@example.com' : null)
  t.same(store.prefetched(id), expected)
  t.same(store.prefetched(id), expected, 'to every request of the session in this turn')
  t.match(userFromFields(store.prefetched(id) ?? []), { id: 'u1', email: 'a@example.com', username: null })
  t.equal(store.prefetched(randomToken()), undefined, 'nothing for another session')
})

t.test('an untaken prefetched hash is dropped on the next turn of the event loop', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000, prefetchUser: true })
  const id = randomToken()
  await userRecord(redis, 'u1')
  await store.write(id, session('u1'))
  t.ok(await store.read(id))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(store.prefetched(id), undefined)
})

t.test('a missing user reads as no values and a missing session as null', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000, prefetchUser: true })
  const id = randomToken()
  await userRecord(redis, 'nobody')
  await store.write(id, session('nobody'))
  // The account deleted while its session is read (deletion ends the sessions after).
  await redis.del('t:user:{nobody}')
  t.equal((await store.read(id))?.userId, 'nobody')
  t.same(store.prefetched(id), USER_FIELDS.map(() => null))
  t.equal(userFromFields(store.prefetched(id) ?? []), null)
  t.equal(await store.read(randomToken()), null)
})

t.test('without userKey nothing is prefetched', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000 })
  await redis.hset('t:user:{u1}', { id: 'u1' })
  const id = randomToken()
  await store.write(id, session('u1'))
  t.equal((await store.read(id))?.userId, 'u1')
  t.equal(store.prefetched(id), undefined)
})

t.test('a session is stored compactly and reads back field for field', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000 })
  const id = randomToken()
  const now = Date.now()
  const ua = 'Mozilla/5.0 (X11; Linux x86_64) a|b|c'
  await userRecord(redis, 'u-1')
  await store.write(id, { userId: 'u-1', createdAt: now - 5, lastSeenAt: now - 1, absoluteExpiresAt: Date.now() + 3_000_000, ip: '2001:db8::1', userAgent: ua })
  const raw = await redis.get(store.keyOf(id)) as string
  t.notOk(raw.startsWith('{'), 'not JSON')
  t.ok(raw.length < JSON.stringify({ u: 'u-1', c: now, a: now, l: now, ip: '2001:db8::1', ua }).length)
  const s = await store.read(id)
  t.same(s, { userId: 'u-1', createdAt: now - 5, lastSeenAt: now - 1, absoluteExpiresAt: s?.absoluteExpiresAt, ip: '2001:db8::1', userAgent: '', userAgentRef: userAgentRef(ua) })
  t.equal(s?.absoluteExpiresAt, decode(raw, 3_600_000).absoluteExpiresAt)
  t.notOk(raw.includes(ua), 'the User-Agent text is kept apart, once for every session that shares it')
  t.equal((await store.listForUser('u-1'))[0].userAgent, ua, 'and the session list shows it')
})

t.test('the sliding refresh keeps the compact form and records lastSeenAt', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  let clock = Date.now()
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 600_000, absoluteTtlMs: 3_600_000, slideStepMs: 60_000, now: () => clock })
  const id = randomToken()
  await userRecord(redis, 'u1')
  await store.write(id, session('u1', clock))
  const createdAt = clock
  // Two minutes later: the key's TTL has run down by as much.
  clock += 120_000
  await redis.pexpire(store.keyOf(id), 600_000 - 120_000)
  const s = await store.read(id)
  t.equal(s?.lastSeenAt, clock, 'lastSeenAt moved to now')
  t.equal(s?.createdAt, createdAt)
  t.equal(s?.userAgentRef, userAgentRef('test agent'))
  const raw = await redis.get(store.keyOf(id)) as string
  t.notOk(raw.startsWith('{'))
  t.equal(decode(raw, 3_600_000).lastSeenAt, clock)
  const pttl = await redis.pttl(store.keyOf(id))
  t.ok(pttl > 600_000 - 5_000, 'expiry pushed forward')
})

t.test('a record of another layout reads as no session, is listed as none and can still be destroyed', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 60_000, absoluteTtlMs: 3_600_000, prefetchUser: true })
  const id = randomToken()
  await userRecord(redis, 'u-old')
  await store.write(id, session('u-old'))
  t.equal((await store.indexed('u-old')).length, 1)
  // The layout before this one had a sixth field (the absolute expiry).
  await redis.set(store.keyOf(id), 'u-old|1|2|3|203.0.113.7|abcdefghijkl', 'PX', 60_000)
  t.equal(await store.read(id), null)
  t.same(await store.listForUser('u-old'), [])
  t.same(await store.indexed('u-old'), [], 'and the listing dropped its entry')
  await new Promise<void>((resolve, reject) => { store.destroy(id, err => { if (err != null) reject(err); else resolve() }) })
  t.equal(await redis.exists(store.keyOf(id)), 0)
})
