import { test } from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { IdentityStore } from '../../src/oauth/identities.js'
import { FlowStore, type FlowState } from '../../src/oauth/flow.js'

async function redisFor (t: Parameters<typeof startTestRedis>[0]): Promise<Redis> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => { redis.disconnect() })
  return redis
}

test('an identity maps to one account: concurrent links of one identity to two users, one wins', async (t) => {
  const redis = await redisFor(t)
  const store = new IdentityStore(redis, 't:')
  const input = { provider: 'p', issuer: 'https://op.example', subject: 's1', email: null }
  const [a, b] = await Promise.all([store.link('user-a', input), store.link('user-b', input)])
  t.same([a.ok, b.ok].sort(), [false, true])
  const winner = a.ok ? 'user-a' : 'user-b'
  t.equal(await store.userOf('https://op.example', 's1'), winner)
  t.equal((await store.list(winner)).length, 1)
  t.equal((await store.list(winner === 'user-a' ? 'user-b' : 'user-a')).length, 0)
  // Linking again to the same user is idempotent; the same subject at another issuer is another identity.
  const again = await store.link(winner, input)
  t.ok(again.ok)
  t.equal((await store.list(winner)).length, 1)
  t.equal(await store.userOf('https://other.example', 's1'), null)
  t.notOk((await redis.keys('t:*')).some(k => k.includes('s1')), 'the subject is not in any key')
})

test('unlink refuses the last identity of an account without a password, and frees the identity', async (t) => {
  const redis = await redisFor(t)
  const store = new IdentityStore(redis, 't:')
  await redis.hset('t:user:{u1}', { id: 'u1', passwordHash: '' })
  const one = await store.link('u1', { provider: 'p', issuer: 'https://op.example', subject: 'x', email: 'x@example.com' })
  if (!one.ok) throw new Error('link failed')
  t.equal(await store.unlink('u1', one.identity.id), 'last')
  t.equal(await store.unlink('u2', one.identity.id), 'unknown', 'only the owner can unlink')
  await redis.hset('t:user:{u1}', 'passwordHash', '$argon2id$...')
  t.equal(await store.unlink('u1', one.identity.id), 'unlinked')
  t.equal(await store.userOf('https://op.example', 'x'), null)
  t.ok((await store.link('u3', { provider: 'p', issuer: 'https://op.example', subject: 'x', email: null })).ok, 'free to link elsewhere')
})

test('a flow is single use and lives its TTL', async (t) => {
  const redis = await redisFor(t)
  const flows = new FlowStore(redis, 't:', 600_000)
  const flow: FlowState = { provider: 'p', state: 'st', nonce: 'n', codeVerifier: 'v', returnTo: 'https://app.example/', binding: 'b' }
  await flows.save(flow)
  t.ok(await redis.ttl(flows.key('st')) > 590)
  t.notOk((await redis.keys('t:*')).some(k => k.endsWith(':st')), 'the state is kept as a digest')
  const [a, b] = await Promise.all([flows.take('st'), flows.take('st')])
  t.same([a, b].filter(x => x !== null), [flow], 'exactly one taker')
  t.equal(await flows.take('st'), null)
})
