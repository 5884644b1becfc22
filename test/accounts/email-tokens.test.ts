import t from 'tap'
import { Redis } from 'ioredis'
import { EmailTokens } from '../../src/accounts/email-tokens.js'
import { digest } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

t.test('of many concurrent reset tokens for one user exactly one works, and revoke ends it', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const tokens = new EmailTokens(redis, 'gh:')
  for (let round = 0; round < 5; round++) {
    const issued = await Promise.all(Array.from({ length: 8 }, async () => await tokens.issue('reset', 'u1', 60_000)))
    t.equal((await redis.keys('gh:reset:*')).length, 1, `round ${round}: one live token key`)
    const live = []
    for (const token of issued) {
      const d = digest(token)
      if (await redis.exists(`gh:reset:${d}`) === 1) live.push(token)
    }
    t.equal(live.length, 1)
    await tokens.revoke('reset', 'u1')
    t.equal(await tokens.consume('reset', live[0]), null, 'revoked')
    t.same(await redis.keys('gh:*reset*'), [])
  }
})

t.test('consuming a token leaves a newer token of the user revocable', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const tokens = new EmailTokens(redis, 'gh:')
  const older = await tokens.issue('reset', 'u2', 60_000)
  // The newer token's key exists before its pointer swap deletes the older one; a consume
  // of the older token can land in between. Replay that order by hand.
  const olderKey = (await redis.keys('gh:reset:*'))[0]
  const saved = await redis.get(olderKey)
  const newer = await tokens.issue('reset', 'u2', 60_000)
  await redis.set(olderKey, saved!, 'EX', 60)
  t.equal(await tokens.consume('reset', older), 'u2')
  t.equal(await redis.exists('gh:user:{u2}:reset'), 1, 'the pointer to the newer token survives')
  await tokens.revoke('reset', 'u2')
  t.equal(await tokens.consume('reset', newer), null, 'so revoke still reaches the newer token')
})

t.test('touch() leaves nothing in Redis', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const tokens = new EmailTokens(redis, 'gh:')
  await tokens.touch('reset')
  t.same(await redis.keys('*'), [])
})
