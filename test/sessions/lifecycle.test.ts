import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { RedisSessionStore, sessionDigest } from '../../src/sessions/store.js'
import { TokenStore } from '../../src/tokens/store.js'
import { endAllSessions, type EndAllDeps } from '../../src/sessions/end-all.js'
import { decodeCursor, listSessions, type SessionCursor } from '../../src/sessions/lifecycle.js'
import { randomToken } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

const USER = '00000000-0000-4000-8000-0000000000b1'
const OTHER = '00000000-0000-4000-8000-0000000000b2'
const META = { ip: '198.51.100.4', userAgent: 'unit' }

/** Both stores on the suite's Redis, without Fastify. */
async function stores (t: Test): Promise<EndAllDeps & { redis: Redis }> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  // Sessions are kept only for users that exist (user-index.ts): a minimal record each.
  for (const id of [USER, OTHER]) await redis.hset(`gh:user:{${id}}`, 'id', id)
  return {
    redis,
    sessionStore: new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 600_000, absoluteTtlMs: 3_600_000 }),
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

  t.equal(await endAllSessions(deps, USER, sessionDigest(a)), 3, 'one cookie session and two families')
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

  const all = { limit: 100 }
  const { sessions: list, nextCursor } = await listSessions(deps, USER, sessionDigest(old), all)
  t.equal(nextCursor, null, 'one page holds them all')
  t.same(list.map(s => s.kind), ['cookie', 'token', 'cookie'])
  t.equal(list[0].id, RedisSessionStore.handleOf(sessionDigest(recent)), 'ids are public handles, not the cookie value')
  t.not(list[0].id, recent)
  t.same(list.map(s => s.current), [false, false, true])
  t.same((await listSessions(deps, USER, family.familyId, all)).sessions.map(s => s.current), [false, true, false], 'a family id marks its family')
  t.equal(list[1].id, family.familyId)
  t.equal(list[1].ip, META.ip)
  t.same(await listSessions(deps, OTHER, undefined, all), { sessions: [], nextCursor: null })
})

t.test('listSessions pages through the list with a cursor, each entry once', async t => {
  const deps = await stores(t)
  const now = Date.now()
  // Two sessions seen in the same millisecond: the id breaks the tie.
  for (const at of [now - 3000, now - 2000, now - 2000, now - 1000, now]) await cookieSession(deps, USER, at)
  const { sessions: all } = await listSessions(deps, USER, undefined, { limit: 100 })
  const seen: string[] = []
  let after: SessionCursor | undefined
  for (let i = 0; i < 10; i++) {
    const page = await listSessions(deps, USER, undefined, { after, limit: 2 })
    t.ok(page.sessions.length <= 2)
    seen.push(...page.sessions.map(s => s.id))
    if (page.nextCursor === null) break
    after = decodeCursor(page.nextCursor) ?? undefined
    t.ok(after !== undefined, 'the cursor reads back')
  }
  t.same(seen, all.map(s => s.id), 'pages of 2 give the whole list, in order, each once')
  t.equal(seen.length, 5)
  t.equal(decodeCursor('not a cursor'), null)
})
