import t from 'tap'
import type { Test } from 'tap'
import { Cluster, Redis } from 'ioredis'
import { EmailCodes, EMAIL_CODE_MAX_ATTEMPTS, newCode } from '../../src/email-code/store.js'
import type { RedisClient } from '../../src/redis/client.js'
import { startCluster, startTestRedis } from '../helper.js'

const KEY = 'a test key for email sign-in codes'

/** The store's promises, the same on one Redis and on a Cluster. */
async function behaves (t: Test, redis: RedisClient): Promise<void> {
  const codes = new EmailCodes(redis, 'gh:', KEY, 600_000)
  const userId = '7d9c1c7e-3e4b-4d43-9a39-0d4f6a1c2b11'

  const first = await codes.issue(userId, 3)
  t.match(first.code, /^[0-9]{6}$/)
  const second = await codes.issue(userId, 3)
  t.equal(await codes.linkOwner(first.token), null, 'a new request kills the old link')
  t.equal(await codes.claimLink(userId, first.token), null)
  const wrong = first.code === second.code ? String((Number(second.code) + 1) % 1e6).padStart(6, '0') : first.code
  t.same(await codes.checkCode(userId, wrong), { ok: false }, 'and the old code (or any other)')
  t.same(await codes.checkCode(userId, second.code), { ok: true, cv: 3 })
  t.same(await codes.checkCode(userId, second.code), { ok: false }, 'spent')
  t.equal(await codes.linkOwner(second.token), null, 'the link is spent with the code')
  t.equal(await codes.claimLink(userId, second.token), null)

  const third = await codes.issue(userId, 4)
  t.equal(await codes.linkOwner(third.token), userId)
  t.equal(await codes.claimLink(userId, third.token), 4)
  t.same(await codes.checkCode(userId, third.code), { ok: false }, 'the code is spent with the link')

  // Under concurrency: however many checks race, at most MAX codes are compared.
  const fourth = await codes.issue(userId, 4)
  const others = Array.from({ length: 50 }, (_, i) => String((Number(fourth.code) + 1 + i) % 1e6).padStart(6, '0'))
  const results = await Promise.all([...others, fourth.code].map(async c => await codes.checkCode(userId, c)))
  t.equal(results.filter(r => r.ok).length, 0, 'the right code after 50 wrong ones in flight is refused')
  t.equal(await redis.hget(codes.requestKey(userId), 'code'), null, 'the code is gone')
  t.ok(Number(await redis.hget(codes.requestKey(userId), 'attempts')) >= EMAIL_CODE_MAX_ATTEMPTS)
  t.equal(await codes.claimLink(userId, fourth.token), 4, 'the link still works')

  await codes.touch()
  t.same(await codes.checkCode('no-such-user', '123456'), { ok: false })
}

t.test('the store on one Redis: replace, spend once, at most five codes checked', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  await behaves(t, redis)
  t.same(await redis.keys('gh:decoy:*'), [], 'the decoy leaves nothing')
  t.same(await redis.keys('gh:email-code:*'), [], 'no link key left behind')
})

t.test('the store on a Redis Cluster: the request in the user\'s slot, the link anywhere', async t => {
  const cluster = await startCluster(t)
  const redis = new Cluster(cluster.spec.split(',').map(hp => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })))
  t.teardown(() => redis.disconnect())
  await behaves(t, redis)
})

t.test('codes are six digits, spread over the whole range', async t => {
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) seen.add(newCode())
  t.ok([...seen].every(c => /^[0-9]{6}$/.test(c)))
  t.ok(seen.size > 1990, 'hardly any repeats')
  t.ok([...seen].some(c => c.startsWith('0')), 'leading zeros kept')
})
