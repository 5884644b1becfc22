import t from 'tap'
import type { Redis } from 'ioredis'
import { build } from '../helper.js'
import { pageUnderChurn, seed } from '../support/user-seed.js'

// Seeding 10,000 users and paging through them takes about a minute on a busy machine.
t.setTimeout(900_000)

t.test('paging through 10,000 users lists each exactly once while users are added and deleted', async t => {
  const ctx = await build(t)
  await pageUnderChurn(t, ctx)

  // What the index costs: the sorted set alone, then the used_memory it frees.
  const redis: Redis = ctx.redis
  const members = await redis.zcard('gh:users:index')
  const users = (await redis.zrangebylex('gh:users:index', '[e:', '(e;')).length
  const usage = Number(await redis.call('MEMORY', 'USAGE', 'gh:users:index', 'SAMPLES', '0'))
  const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
  await redis.del('gh:users:index')
  const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
  t.comment(`index: ${users} users, ${members} members (email + username), MEMORY USAGE ${usage} B = ${(usage / users).toFixed(1)} B/user; used_memory delta ${before - after} B = ${((before - after) / users).toFixed(1)} B/user`)
  t.ok(usage / users < 400, 'under 400 bytes per user')
})

t.test('a member whose user is gone is skipped and dropped; one whose record says otherwise is skipped', async t => {
  const ctx = await build(t)
  const [a, b] = await seed(ctx, 2)
  await ctx.redis.del(`gh:user:{${a.id}}`)
  await ctx.redis.zadd('gh:users:index', 0, `e:zzz@example.com\0${b.id}`)
  const page = await ctx.app.users.index.page('', undefined, 10, async ids => await ctx.app.users.findByIds(ids))
  t.same(page.users.map(u => u.id), [b.id])
  t.equal(page.nextCursor, null)
  t.equal(await ctx.redis.zscore('gh:users:index', `e:${a.email}\0${a.id}`), null, 'the dead member was removed')
  t.equal(await ctx.redis.zscore('gh:users:index', `e:zzz@example.com\0${b.id}`), '0', 'a stale one of a live user is left to its owner\'s change')
})
