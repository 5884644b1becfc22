import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { randomToken } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

const USER = '00000000-0000-4000-8000-000000000001'
const OTHER = '00000000-0000-4000-8000-000000000002'

async function connect (t: Test): Promise<Redis> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  // Sessions are kept only for users that exist (user-index.ts): a minimal record each.
  for (const id of [USER, OTHER]) await redis.hset(`gh:user:{${id}}`, 'id', id)
  return redis
}

async function waitGone (redis: Redis, keys: string[]): Promise<void> {
  // Redis expires the keys; poll rather than assume how long it takes on a loaded machine.
  for (let i = 0; i < 600; i++) {
    const left = await Promise.all(keys.map(async k => await redis.exists(k)))
    if (left.every(n => n === 0)) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const session = (now: number, ttlAbs: number): Record<string, unknown> => ({ userId: USER, createdAt: now, lastSeenAt: now, absoluteExpiresAt: now + ttlAbs, ip: '127.0.0.1', userAgent: 'test' })

for (const single of [false, true]) {
  // A single Redis drops ended sessions in the index's own script; a Cluster asks for each key.
  const mode = single ? 'single Redis' : 'Cluster-safe'
  t.test(`the index stays small after many sessions expired by idleness (${mode})`, async t => {
    const redis = await connect(t)
    const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 1000, absoluteTtlMs: 86400_000, prefetchUser: single })
    const ids = Array.from({ length: 300 }, () => randomToken(32))
    for (const id of ids) await store.write(id, session(Date.now(), 86400_000))
    await waitGone(redis, ids.map(id => store.keyOf(id)))
    const live = randomToken(32)
    const longLived = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 86400_000, absoluteTtlMs: 86400_000, prefetchUser: single })
    await longLived.write(live, session(Date.now(), 86400_000))
    t.same(await store.indexed(USER), [store.digestOf(live)], 'a new session prunes every dead entry')
    t.equal((await longLived.listForUser(USER)).length, 1)
  })

  t.test(`ended sessions do not count against maxPerUser (${mode})`, async t => {
    const redis = await connect(t)
    const evicted: number[] = []
    const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000, maxPerUser: 3, prefetchUser: single, onEvicted: (_, n) => evicted.push(n) })
    const ids = Array.from({ length: 3 }, () => randomToken(32))
    for (const id of ids) await store.write(id, session(Date.now(), 7200_000))
    // The middle one ends without its index hearing of it (as an idle expiry does).
    await redis.del(store.keyOf(ids[1]))
    const fourth = randomToken(32)
    await store.write(fourth, session(Date.now(), 7200_000))
    t.same(await store.indexed(USER), [ids[0], ids[2], fourth].map(id => store.digestOf(id)), 'the ended entry went, no live session was ended')
    t.same(evicted, [])
    for (const id of [ids[0], ids[2], fourth]) t.ok(await store.read(id), 'still signed in')
  })
}

t.test('entries past the absolute lifetime are pruned and never listed', async t => {
  const redis = await connect(t)
  let now = Date.now()
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000, now: () => now })
  for (let i = 0; i < 50; i++) await store.write(randomToken(32), session(now, 7200_000))
  t.equal((await store.listForUser(USER)).length, 50)
  now += 7200_001
  t.equal((await store.listForUser(USER)).length, 0, 'nothing past its absolute expiry is listed')
  t.equal(await redis.hexists(`gh:user:{${USER}}`, 'sessions'), 0, 'and the listing pruned the entries')
  for (let i = 0; i < 50; i++) await store.write(randomToken(32), session(now - 7200_001, 7200_000))
  now += 7200_001
  const fresh = randomToken(32)
  await store.write(fresh, session(now, 7200_000))
  t.same(await store.indexed(USER), [store.digestOf(fresh)], 'a login prunes them too')
})

t.test('last seen moves at most once a step, also once the absolute lifetime caps the expiry', async t => {
  const redis = await connect(t)
  const start = Date.now()
  let now = start
  // absolute lifetime shorter than the idle one: the expiry is capped from the start
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 7 * 86400_000, absoluteTtlMs: 86400_000, slideStepMs: 60_000, now: () => now })
  const id = randomToken(32)
  await store.write(id, session(start, 86400_000))
  now = start + 30_000
  t.equal((await store.read(id))!.lastSeenAt, start, 'not rewritten within a step')
  now = start + 61_000
  t.equal((await store.read(id))!.lastSeenAt, start + 61_000, 'rewritten after a step')
  const pttl = await redis.pttl(store.keyOf(id))
  t.ok(pttl > 86400_000 - 120_000 && pttl <= 86400_000, 'the TTL was kept, not extended past the absolute lifetime')
  now = start + 62_000
  t.equal((await store.read(id))!.lastSeenAt, start + 61_000)
})

t.test('destroyAllForUser and destroyByHandle touch only that user', async t => {
  const redis = await connect(t)
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000 })
  const mine = [randomToken(32), randomToken(32), randomToken(32)]
  const theirs = randomToken(32)
  for (const id of mine) await store.write(id, session(Date.now(), 7200_000))
  await store.write(theirs, { ...session(Date.now(), 7200_000), userId: OTHER })
  t.equal(await store.destroyByHandle(USER, RedisSessionStore.handleOf(store.digestOf(theirs))), false)
  t.equal(await redis.exists(store.keyOf(theirs)), 1)
  t.equal(await store.destroyByHandle(USER, RedisSessionStore.handleOf(store.digestOf(mine[0]))), true)
  t.equal(await redis.exists(store.keyOf(mine[0])), 0)
  t.equal(await store.destroyAllForUser(USER, store.digestOf(mine[1])), 1)
  t.equal(await redis.exists(store.keyOf(mine[1])), 1, 'kept')
  t.equal(await redis.exists(store.keyOf(mine[2])), 0)
  t.equal(await redis.exists(store.keyOf(theirs)), 1, 'the other user is untouched')
})

t.test('ending all sessions counts only those that were still alive', async t => {
  const redis = await connect(t)
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000 })
  const ids = [randomToken(32), randomToken(32), randomToken(32)]
  for (const id of ids) await store.write(id, session(Date.now(), 7200_000))
  await redis.del(store.keyOf(ids[0])) // as if it had expired by idleness
  t.equal(await store.destroyAllForUser(USER), 2)
  t.equal(await redis.hexists(`gh:user:{${USER}}`, 'sessions'), 0, 'the index is gone with its entries')
})

t.test('maxPerUser: the oldest sessions end first, and the index never holds more', async t => {
  const redis = await connect(t)
  let now = Date.now()
  const evicted: Array<[string, number]> = []
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000, maxPerUser: 3, now: () => now, onEvicted: (userId, n) => evicted.push([userId, n]) })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const id = randomToken(32)
    ids.push(id)
    await store.write(id, session(now, 7200_000))
    now += 1000
  }
  t.same(await store.indexed(USER), ids.slice(2).map(id => store.digestOf(id)), 'the three newest are indexed, oldest first')
  for (const [i, id] of ids.entries()) t.equal((await store.read(id)) === null, i < 2, `session ${i}`)
  t.same(evicted, [[USER, 1], [USER, 1]], 'each eviction is reported')
  t.equal(await store.countActive(), 3, 'the live count follows')
  await store.write(ids[4], { ...session(now, 7200_000), createdAt: now - 1000 })
  t.equal((await store.indexed(USER)).length, 3, 'saving a session again adds nothing and ends nothing')
  t.equal(evicted.length, 2)
})

t.test('maxPerUser holds with many sessions written at once', async t => {
  const redis = await connect(t)
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 3600_000, absoluteTtlMs: 7200_000, maxPerUser: 10 })
  const ids = Array.from({ length: 200 }, () => randomToken(32))
  await Promise.all(ids.map(async id => await store.write(id, session(Date.now(), 7200_000))))
  const indexed = await store.indexed(USER)
  t.equal(indexed.length, 10, 'ten entries')
  const live = (await Promise.all(ids.map(async id => await redis.exists(store.keyOf(id))))).filter(n => n === 1).length
  t.equal(live, 10, 'ten live session keys')
  t.same((await store.listForUser(USER)).map(s => s.digest).sort(), [...indexed].sort(), 'the live ones are the indexed ones')
  t.equal(await store.countActive(), 10)
})

t.test('a session in use never lapses, also when its lifetime is short against the slide step', async t => {
  const redis = await connect(t)
  // 1.2 s of lifetime against the default 60 s step: the step becomes a quarter of it.
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 1200, absoluteTtlMs: 60_000, prefetchUser: true })
  const id = randomToken(32)
  await store.write(id, session(Date.now(), 60_000))
  let lapsed = 0
  let laggedMost = 0
  const end = Date.now() + 4000
  while (Date.now() < end) {
    if (await store.read(id) === null) lapsed++
    const lag = 1200 - await redis.pttl(store.keyOf(id))
    laggedMost = Math.max(laggedMost, lag)
    await new Promise(resolve => setTimeout(resolve, 150))
  }
  t.equal(lapsed, 0, 'read every 150 ms for 4 s (three lifetimes): signed in throughout')
  t.ok(laggedMost < 1200 / 4 + 250, `the expiry lags its target by at most about a step (${laggedMost} ms)`)
})
