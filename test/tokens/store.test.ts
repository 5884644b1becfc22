import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { TokenStore } from '../../src/tokens/store.js'
import { digest } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

const USER = '00000000-0000-4000-8000-00000000000a'
const META = { ip: '127.0.0.1', userAgent: 'unit' }

async function connect (t: Test): Promise<Redis> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  return redis
}

const slotTag = (key: string): string | undefined => /\{([^}]*)\}/.exec(key)?.[1]

t.test('of many concurrent spends of one refresh token exactly one sees it live', async t => {
  const redis = await connect(t)
  const store = new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 3600_000 })
  for (let round = 0; round < 20; round++) {
    const issued = await store.issue(USER, META)
    const outcomes = await Promise.all(Array.from({ length: 8 }, async () => await store.spend(issued.refreshToken)))
    t.equal(outcomes.filter(o => o.ok).length, 1, `round ${round}`)
    t.ok(outcomes.filter(o => !o.ok).every(o => !o.ok && o.reason === 'reused'))
  }
})

t.test('a rotation racing the end of its family leaves no live token behind', async t => {
  const redis = await connect(t)
  const store = new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 3600_000 })
  for (let round = 0; round < 20; round++) {
    const issued = await store.issue(USER, META)
    const spent = await store.spend(issued.refreshToken)
    t.ok(spent.ok)
    const [next] = await Promise.all([store.rotate(USER, issued.familyId, issued.refreshToken), store.endFamily(USER, issued.familyId)])
    if (next !== null) {
      // The rotation won the race: then the end saw its tokens, or the family still lives.
      const family = await redis.exists(store.familyKey(USER, issued.familyId))
      const live = await store.authenticate(next.accessToken)
      t.equal(live !== null, family === 1, 'a live access token only in a live family')
    }
    t.equal(await store.authenticate(issued.accessToken), null, 'the first access token is dead')
  }
  for (const key of await redis.keys('gh:at:*')) {
    const v = JSON.parse(String(await redis.get(key))) as { u: string, f: string }
    t.equal(await redis.exists(store.familyKey(v.u, v.f)), 1, 'no access token outlives its family')
  }
  for (const key of await redis.keys('gh:rt:*')) {
    const v = JSON.parse(String(await redis.get(key))) as { u: string, f: string, x: number }
    if (v.x === 0) t.equal(await redis.exists(store.familyKey(v.u, v.f)), 1, 'no unspent refresh token outlives its family')
  }
})

t.test('keys touched together share the user hash tag; token keys are digests', async t => {
  const redis = await connect(t)
  const store = new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 3600_000 })
  const issued = await store.issue(USER, META)
  t.equal(slotTag(store.familyKey(USER, issued.familyId)), USER)
  t.equal(slotTag(store.indexKey(USER)), USER)
  t.equal(await redis.exists(store.accessKey(digest(issued.accessToken))), 1)
  t.equal(await redis.exists(store.refreshKey(digest(issued.refreshToken))), 1)
  const rt = await redis.pttl(store.refreshKey(digest(issued.refreshToken)))
  t.ok(rt > 3500_000 && rt <= 3600_000)
  const at = await redis.pttl(store.accessKey(digest(issued.accessToken)))
  t.ok(at > 0 && at <= 60_000)
})

t.test('expired families leave the index, and rotations do not grow the family', async t => {
  const redis = await connect(t)
  let now = Date.now()
  const store = new TokenStore(redis, { prefix: 'gh:', accessTtl: 1000, refreshTtl: 3600_000, now: () => now })
  const first = await store.issue(USER, META)
  let current = first.refreshToken
  for (let i = 0; i < 30; i++) {
    now += 2000 // each earlier access token has expired
    const s = await store.spend(current)
    t.ok(s.ok)
    const next = await store.rotate(USER, first.familyId, current)
    current = next!.refreshToken
  }
  const fields = await redis.hkeys(store.familyKey(USER, first.familyId))
  t.ok(fields.filter(f => f.startsWith('a:')).length <= 2, `expired access tokens are dropped from the family (${fields.length} fields)`)
  now += 3600_001
  t.same(await store.listForUser(USER), [], 'an expired family is not listed')
  t.equal(await redis.zcard(store.indexKey(USER)), 0)
})

t.test("a family's last seen moves with its access token at most once a step", async t => {
  const redis = await connect(t)
  const start = Date.now()
  let now = start
  const store = new TokenStore(redis, { prefix: 'gh:', accessTtl: 600_000, refreshTtl: 3600_000, touchStep: 60_000, now: () => now })
  const issued = await store.issue(USER, META)
  const lastSeen = async (): Promise<number> => (await store.listForUser(USER))[0].lastSeenAt
  now = start + 30_000
  t.ok(await store.authenticate(issued.accessToken))
  t.equal(await lastSeen(), start, 'not written within a step')
  now = start + 61_000
  t.ok(await store.authenticate(issued.accessToken))
  t.equal(await lastSeen(), start + 61_000, 'written after a step')
  now = start + 90_000
  t.ok(await store.authenticate(issued.accessToken))
  t.equal(await lastSeen(), start + 61_000)
  await store.endFamily(USER, issued.familyId)
  now = start + 200_000
  t.equal(await store.authenticate(issued.accessToken), null)
  t.equal(await redis.exists(store.familyKey(USER, issued.familyId)), 0, 'an ended family is not brought back')
})
