import { test } from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { MAX_PASSKEYS, PasskeyChallenges, PasskeyStore, type NewPasskey } from '../../src/passkeys/store.js'
import { IdentityStore } from '../../src/oauth/identities.js'
import { authenticatorName } from '../../src/passkeys/authenticators.js'
import { loadConfig } from '../../src/config.js'

async function redisFor (t: Parameters<typeof startTestRedis>[0]): Promise<Redis> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => { redis.disconnect() })
  return redis
}

const passkey = (credentialId: string): NewPasskey => ({ credentialId, publicKey: 'pk', counter: 0, transports: '', aaguid: '00000000-0000-0000-0000-000000000000', deviceType: 'singleDevice', backedUp: false, name: 'Key' })

test('a credential is stored once per user, at most MAX_PASSKEYS, even when added concurrently', async t => {
  const redis = await redisFor(t)
  const store = new PasskeyStore(redis, 't:')
  const twice = await Promise.all([store.add('u1', passkey('c1')), store.add('u1', passkey('c1'))])
  t.same(twice.map(r => r.ok).sort(), [false, true])
  t.equal(await store.count('u1'), 1)
  await Promise.all(Array.from({ length: MAX_PASSKEYS + 5 }, async (_, i) => await store.add('u1', passkey(`more-${i}`))))
  t.equal(await store.count('u1'), MAX_PASSKEYS)
  t.match(await store.add('u1', passkey('one-too-many')), { ok: false, reason: 'limit' })
  t.equal((await store.byCredentialId('u1', 'c1'))?.name, 'Key')
  t.equal(await store.byCredentialId('u2', 'c1'), null, 'another user\'s credential is not found')
})

test('a use moves the counter forward only; a counter of 0 on both sides is accepted', async t => {
  const redis = await redisFor(t)
  const store = new PasskeyStore(redis, 't:')
  const added = await store.add('u1', passkey('c1'))
  if (!added.ok) throw new Error('not added')
  const id = added.passkey.id
  t.equal(await store.recordUse('u1', id, 0, true), 'ok')
  t.equal(await store.recordUse('u1', id, 5, true), 'ok')
  t.equal(await store.recordUse('u1', id, 5, true), 'counter')
  t.equal(await store.recordUse('u1', id, 3, false), 'counter')
  t.equal(await store.recordUse('u1', id, 0, false), 'counter', 'a counter back at 0 after 5 is refused')
  t.equal(await store.recordUse('u1', 'nope', 9, false), 'unknown')
  const [p] = await store.list('u1')
  t.equal(p.counter, 5)
  t.equal(p.backedUp, true)
  t.ok(p.lastUsedAt)
  const concurrent = await Promise.all([6, 6, 6, 6].map(async n => await store.recordUse('u1', id, n, true)))
  t.same(concurrent.filter(r => r === 'ok').length, 1, 'one counter value is accepted once')
  t.ok(await store.rename('u1', id, 'Renamed "quoted" / ✓'))
  t.equal((await store.list('u1'))[0].name, 'Renamed "quoted" / ✓')
  t.equal((await store.list('u1'))[0].counter, 6, 'a rename keeps the recorded use')
})

test('the last way to sign in stays: password, identities and passkeys counted together', async t => {
  const redis = await redisFor(t)
  const store = new PasskeyStore(redis, 't:')
  const identities = new IdentityStore(redis, 't:')
  await redis.hset('t:user:{u1}', 'passwordHash', '')
  const a = await store.add('u1', passkey('a'))
  if (!a.ok) throw new Error('not added')
  t.equal(await store.remove('u1', a.passkey.id), 'last')
  const linked = await identities.link('u1', { provider: 'p', issuer: 'https://op.example', subject: 's', email: null })
  if (!linked.ok) throw new Error('not linked')
  t.equal(await identities.unlink('u1', linked.identity.id), 'unlinked', 'a passkey is a way to sign in: the identity may go')
  t.equal(await store.remove('u1', a.passkey.id), 'last')
  await redis.hset('t:user:{u1}', 'passwordHash', '$argon2id$...')
  t.equal(await store.remove('u1', a.passkey.id), 'removed')
  t.equal(await store.remove('u1', a.passkey.id), 'unknown')
})

test('a challenge is kept hashed, taken once', async t => {
  const redis = await redisFor(t)
  const challenges = new PasskeyChallenges(redis, 't:', 300_000)
  await challenges.put('sign-in:abc', 'the-challenge')
  const keys = await redis.keys('t:*')
  t.notOk(keys.some(k => k.includes('abc')), 'the binding is hashed in the key')
  t.notOk((await redis.get(keys[0]))?.includes('the-challenge'), 'the challenge is hashed in the value')
  t.ok(await redis.pttl(keys[0]) > 290_000)
  const taken = await Promise.all([challenges.take('sign-in:abc'), challenges.take('sign-in:abc')])
  t.equal(taken.filter(x => x !== null).length, 1)
})

test('authenticator names by AAGUID; the relying party from config', async t => {
  t.equal(authenticatorName('FBFC3007-154E-4ECC-8C0B-6E020557D7BD'), 'iCloud Keychain')
  t.equal(authenticatorName('00000000-0000-0000-0000-000000000000'), null)
  const dev = loadConfig({ NODE_ENV: 'test', PORT: '4000' })
  t.equal(dev.rpId, 'localhost')
  t.same(dev.rpOrigins, ['http://localhost:4000'], '127.0.0.1 is no origin for passkeys: an IP cannot be an RP ID')
  const prod = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'https://auth.example.com', APP_ORIGIN: 'https://app.example.com', CORS_ORIGINS: 'https://evil.test' })
  t.equal(prod.rpId, 'app.example.com')
  t.same(prod.rpOrigins, ['https://app.example.com'])
  const shared = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'https://auth.example.com', APP_ORIGIN: 'https://app.example.com', RP_ID: 'example.com', RP_NAME: 'Example' })
  t.same(shared.rpOrigins, ['https://app.example.com', 'https://auth.example.com'], 'every allowed origin on the RP ID or below it')
  t.equal(shared.rpName, 'Example')
  t.same(loadConfig({ NODE_ENV: 'test', PASSKEY_ORIGINS: 'https://a.example.com,https://B.example.com' }).rpOrigins, ['https://a.example.com', 'https://b.example.com'])
  t.throws(() => loadConfig({ NODE_ENV: 'test', RP_ID: 'https://example.com' }), /RP_ID/)
})
