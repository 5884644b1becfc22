import t from 'tap'
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { decodeSession as decode } from '../../src/sessions/record.js'

t.test('RedisSessionStore', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  let now = 1_800_000_000_000
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 600_000, absoluteTtlMs: 3_600_000, slideStepMs: 60_000, now: () => now })
  const session = (userId: string) => ({ userId, createdAt: now, absoluteExpiresAt: now + 3_600_000, lastSeenAt: now, ip: '127.0.0.1', userAgent: 'tap' })
  // Sessions are kept only for users that exist (user-index.ts): a minimal record each.
  for (const id of ['u1', 'u2', 'u3', 'ua', 'ub', 'uc']) await redis.hset(`t:user:{${id}}`, 'id', id)

  t.test('keys are the SHA-256 of the id and values hold no id', async t => {
    await store.write('raw-id-1', session('u1'))
    const key = `t:sess:${createHash('sha256').update('raw-id-1').digest('base64url').slice(0, 20)}`
    t.equal(await redis.exists(key), 1)
    t.notMatch(await redis.get(key) ?? '', /raw-id-1/)
    t.same((await store.read('raw-id-1'))?.userId, 'u1')
    t.equal(await store.read('raw-id-2'), null)
  })

  t.test('reads slide the expiry only when it lags by more than the step', async t => {
    await store.write('slide', session('u2'))
    const key = store.keyOf('slide')
    // as if 30 s had passed since the last touch: inside the step, no write
    await redis.pexpire(key, 570_000)
    await store.read('slide')
    t.ok(await redis.pttl(key) <= 570_000, 'not extended inside the step')
    t.equal(decode((await redis.get(key))!, 3_600_000).lastSeenAt, now, 'last seen untouched')
    // as if 70 s had passed: pushed back to the full idle lifetime
    now += 70_000
    await redis.pexpire(key, 530_000)
    await store.read('slide')
    t.ok(await redis.pttl(key) > 590_000, 'extended')
    t.equal(decode((await redis.get(key))!, 3_600_000).lastSeenAt, now, 'last seen recorded')
  })

  t.test('the absolute lifetime deletes the session on read', async t => {
    await store.write('abs', session('u3'))
    now += 3_600_001
    t.equal(await store.read('abs'), null)
    t.equal(await redis.exists(store.keyOf('abs')), 0)
  })

  t.test('listing, ending one by handle and ending all are per user', async t => {
    await store.write('a1', session('ua'))
    await store.write('a2', session('ua'))
    await store.write('b1', session('ub'))
    const list = await store.listForUser('ua')
    t.equal(list.length, 2)
    t.ok(list.every(s => !s.handle.includes('a1') && s.handle.length === 22))
    t.equal(await store.destroyByHandle('ub', list[0].handle), false, 'another user cannot end it')
    t.equal(await store.destroyByHandle('ua', list[0].handle), true)
    t.equal((await store.listForUser('ua')).length, 1)
    t.equal(await store.destroyAllForUser('ua'), 1)
    t.equal((await store.listForUser('ua')).length, 0)
    t.equal((await store.listForUser('ub')).length, 1, 'the other user keeps its session')
  })

  t.test('expired entries are pruned from the index', async t => {
    for (let i = 0; i < 20; i++) await store.write(`old${i}`, session('uc'))
    now += 3_600_001
    await store.write('fresh', session('uc'))
    t.equal((await store.listForUser('uc')).length, 1)
    t.equal((await store.indexed('uc')).length, 1)
  })

  t.test('a session saved after its user was deleted is not kept, and the user hash is not recreated', async t => {
    await redis.hset('t:user:{gone}', 'id', 'gone')
    const live = await store.countActive()
    await store.write('saved-again', session('gone'))
    t.equal(await store.countActive(), live + 1)
    await redis.del('t:user:{gone}')
    await store.write('saved-again', session('gone'))
    await store.write('new', session('gone'))
    t.equal(await redis.exists('t:user:{gone}'), 0, 'no user hash holding only the index')
    t.equal(await redis.exists(store.keyOf('saved-again')), 0, 'a session saved again is deleted')
    t.equal(await redis.exists(store.keyOf('new')), 0, 'a new session is deleted')
    t.equal(await store.read('saved-again'), null)
    t.equal(await store.read('new'), null)
    t.equal(await store.countActive(), live, 'the live count forgets them')
  })

  t.test('anonymous sessions are not stored', async t => {
    const before = await redis.dbsize()
    await store.write('anon', { cookie: {} })
    t.equal(await redis.dbsize(), before)
  })
})

t.test('an id handed out and never written is destroyed without asking Redis; once written, for real', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const store = new RedisSessionStore(redis, { prefix: 't:', ttlMs: 600_000, absoluteTtlMs: 3_600_000 })
  await redis.hset('t:user:{u1}', 'id', 'u1')
  const calls = async (): Promise<number> => Number(/cmdstat_getdel:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0)
  const destroy = async (id: string): Promise<void> => { await new Promise<void>((resolve, reject) => { store.destroy(id, err => { if (err != null) reject(err); else resolve() }) }) }
  const fresh = store.newId()
  t.match(fresh, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')
  t.not(store.newId(), fresh)
  await destroy(fresh)
  t.equal(await calls(), 0, 'nothing to destroy: no command')

  const signedIn = store.newId()
  await store.write(signedIn, { userId: 'u1', createdAt: Date.now(), lastSeenAt: Date.now(), ip: '127.0.0.1', userAgent: 'tap' })
  t.ok(await store.read(signedIn))
  await destroy(signedIn)
  t.equal(await calls(), 1, 'a written id is destroyed in Redis')
  t.equal(await store.read(signedIn), null, 'and is gone')
  t.equal(await store.read(fresh), null)
  // An id this store never handed out (another process's, or a cookie's) always asks Redis.
  await destroy('an id from elsewhere')
  t.equal(await calls(), 2)
})
