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

test('twenty links of one identity to one account in flight while the claim\'s winner stalls make one record, and unlinking it leaves none', async (t) => {
  const redis = await redisFor(t)
  const store = new IdentityStore(redis, 't:')
  await redis.hset('t:user:{u1}', { id: 'u1', passwordHash: '' })
  const input = { provider: 'p', issuer: 'https://op.example', subject: 'same', email: 'same@example.com' }
  // Two browsers finishing the same link flow, each on its own connection (as two processes would).
  const clients = Array.from({ length: 4 }, () => new Redis(redis.options))
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const stores = clients.map(c => new IdentityStore(c, 't:'))
  // The winner of the claim stalls between its two writes (the claim is made, its record not
  // yet written): every other link then finds the claim its own and no record to answer with.
  await redis.set(store.indexKey(input.issuer, input.subject), 'u1')
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await stores[i % 4].link('u1', input)))
  t.ok(results.every(r => r.ok), 'every link answers the linked identity')
  const ids = new Set(results.map(r => r.ok ? r.identity.id : ''))
  t.equal(ids.size, 1, 'all of them the same one')
  t.equal(await redis.hlen('t:user:{u1}:identities'), 1, 'one record')
  t.equal(await store.userOf('https://op.example', 'same'), 'u1')
  // A second identity, so that the first may be unlinked from this password-less account.
  const other = await store.link('u1', { ...input, subject: 'other' })
  t.ok(other.ok)
  t.equal(await store.unlink('u1', [...ids][0]), 'unlinked')
  t.equal(await store.userOf('https://op.example', 'same'), null, 'the identity is free')
  t.same((await store.list('u1')).map(i => i.subject), ['other'], 'no record of it is left behind')
  t.equal(await store.unlink('u1', other.ok ? other.identity.id : ''), 'last', 'and the last way to sign in is kept')
})

test('two different identities linked to one account at once are both kept', async (t) => {
  const redis = await redisFor(t)
  const store = new IdentityStore(redis, 't:')
  const [a, b] = await Promise.all([
    store.link('u2', { provider: 'p', issuer: 'https://op.example', subject: 'a', email: null }),
    store.link('u2', { provider: 'q', issuer: 'https://other.example', subject: 'b', email: null })
  ])
  t.ok(a.ok && b.ok)
  t.equal((await store.list('u2')).length, 2)
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
