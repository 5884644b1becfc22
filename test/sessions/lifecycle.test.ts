import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { TokenStore } from '../../src/tokens/store.js'
import { endAllSessions, type EndAllDeps } from '../../src/sessions/end-all.js'
import { listSessions } from '../../src/sessions/lifecycle.js'
import { digest, randomToken } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

const USER = '00000000-0000-4000-8000-0000000000b1'
const OTHER = '00000000-0000-4000-8000-0000000000b2'
const META = { ip: '198.51.100.4', userAgent: 'unit' }

/** Both stores on the suite's Redis, without Fastify. */
async function stores (t: Test): Promise<EndAllDeps & { redis: Redis }> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  return {
    redis,
    sessionStore: new RedisSessionStore(redis, { prefix: 'gh:', ttl: 600_000, absoluteTtl: 3_600_000 }),
    tokenStore: new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 600_000 })
  }
}

async function cookieSession (deps: EndAllDeps, userId: string, lastSeenAt = Date.now()): Promise<string> {
  const id = randomToken(32)
  await deps.sessionStore.write(id, { userId, createdAt: lastSeenAt, lastSeenAt, ip: META.ip, userAgent: 'browser' })
  return id
}

t.test('endAllSessions ends cookie sessions and token families of that user only, sparing `keep`', async t => {
  const deps = await stores(t)
  const [a, b] = [await cookieSession(deps, USER), await cookieSession(deps, USER)]
  const theirs = await cookieSession(deps, OTHER)
  const f1 = await deps.tokenStore.issue(USER, META)
  const f2 = await deps.tokenStore.issue(USER, META)
  const theirFamily = await deps.tokenStore.issue(OTHER, META)

  t.equal(await endAllSessions(deps, USER, digest(a)), 3, 'one cookie session and two families')
  t.ok(await deps.sessionStore.read(a), 'the kept session lives')
  t.equal(await deps.sessionStore.read(b), null)
  t.equal(await deps.tokenStore.authenticate(f1.accessToken), null)
  t.equal(await deps.tokenStore.authenticate(f2.accessToken), null)

  const f3 = await deps.tokenStore.issue(USER, META)
  t.equal(await endAllSessions(deps, USER, f3.familyId), 1, 'a family id is kept the same way')
  t.ok(await deps.tokenStore.authenticate(f3.accessToken))
  t.equal(await endAllSessions(deps, USER), 1, 'without keep, the last one goes too')
  t.equal(await endAllSessions(deps, USER), 0, 'nothing left')

  t.ok(await deps.sessionStore.read(theirs), "another user's session is untouched")
  t.ok(await deps.tokenStore.authenticate(theirFamily.accessToken), "and another user's family")
})

t.test('listSessions merges cookie sessions and token families, most recently seen first, marking the current one', async t => {
  const deps = await stores(t)
  const now = Date.now()
  const old = await cookieSession(deps, USER, now - 60_000)
  const family = await deps.tokenStore.issue(USER, META)
  const recent = await cookieSession(deps, USER, now + 1000)

  const list = await listSessions(deps, USER, digest(old))
  t.same(list.map(s => s.kind), ['cookie', 'token', 'cookie'])
  t.equal(list[0].id, RedisSessionStore.handleOf(digest(recent)), 'ids are public handles, not the cookie value')
  t.not(list[0].id, recent)
  t.same(list.map(s => s.current), [false, false, true])
  t.same((await listSessions(deps, USER, family.familyId)).map(s => s.current), [false, true, false], 'a family id marks its family')
  t.equal(list[1].id, family.familyId)
  t.equal(list[1].ip, META.ip)
  t.same(await listSessions(deps, OTHER, undefined), [])
})
