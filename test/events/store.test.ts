import t from 'tap'
import { build, signedInUser } from '../helper.js'
import { deleteUserEvents, eventSubject, globalEventsKey, readUserEvents, userDevicesKey, userEventsKey } from '../../src/events/store.js'
import { eventsOf, globalEvents } from './support.js'

t.test('a user\'s stream keeps the newest EVENTS_USER_MAX_COUNT events', async t => {
  const ctx = await build(t, { EVENTS_USER_MAX_COUNT: '5' })
  for (let i = 0; i < 12; i++) await ctx.app.events.emit({ type: 'session.sign_in_failed', userId: 'capped-user', data: { method: 'password', failures: i } })
  t.equal(await ctx.redis.xlen(userEventsKey('gh:', 'capped-user')), 5)
  t.same((await eventsOf(ctx, 'capped-user')).map(e => e.data.failures), [11, 10, 9, 8, 7], 'the newest five, newest first')
  t.equal(await ctx.redis.xlen(globalEventsKey('gh:')), 12, 'the global stream has its own cap')
})

t.test('a user\'s events older than EVENTS_USER_MAX_AGE are trimmed, and an idle stream expires', async t => {
  const ctx = await build(t, { EVENTS_USER_MAX_AGE: '1' })
  await ctx.app.events.emit({ type: 'user.email_verified', userId: 'aging-user' })
  const ttl = await ctx.redis.pttl(userEventsKey('gh:', 'aging-user'))
  t.ok(ttl > 0 && ttl <= 1000, `the stream expires with its newest event (${ttl} ms)`)
  await new Promise(resolve => setTimeout(resolve, 1100))
  await ctx.app.events.emit({ type: 'password.changed', userId: 'aging-user' })
  t.same((await eventsOf(ctx, 'aging-user')).map(e => e.type), ['password.changed'], 'the older event is gone')
})

t.test('the global stream is capped by count too (trimmed in whole blocks)', async t => {
  const ctx = await build(t, { EVENTS_GLOBAL_MAX_COUNT: '10' })
  for (let i = 0; i < 300; i++) await ctx.app.events.emit({ type: 'session.signed_out', userId: `u${i % 7}`, data: { kind: 'cookie' } })
  const length = await ctx.redis.xlen(globalEventsKey('gh:'))
  t.ok(length >= 10 && length <= 200, `300 events, ${length} kept`)
})

t.test('pages: newest first, each event once, a null cursor on the last page', async t => {
  const ctx = await build(t)
  for (let i = 0; i < 7; i++) await ctx.app.events.emit({ type: 'session.sign_in_failed', userId: 'paged-user', data: { method: 'password', failures: i } })
  const seen: number[] = []
  let cursor: string | undefined
  const sizes: number[] = []
  for (;;) {
    const page = await readUserEvents(ctx.redis, 'gh:', 'paged-user', { cursor, limit: 3 })
    sizes.push(page.events.length)
    seen.push(...page.events.map(e => Number(e.data.failures)))
    if (page.nextCursor === null) break
    cursor = page.nextCursor
  }
  t.same(sizes, [3, 3, 1])
  t.same(seen, [6, 5, 4, 3, 2, 1, 0])
  const exact = await readUserEvents(ctx.redis, 'gh:', 'paged-user', { limit: 7 })
  t.equal(exact.nextCursor, null, 'a page that ends exactly at the last event has no next cursor')
})

t.test('fields outside the catalogue never reach a stream', async t => {
  const ctx = await build(t)
  await ctx.app.events.emit({ type: 'session.signed_in', userId: 'leaky-user', data: { method: 'password', password: 'hunter2 hunter2', email: 'leak@example.com', refreshToken: 'ghr_x' } })
  const [own] = await eventsOf(ctx, 'leaky-user')
  t.same(own.data, { method: 'password' })
  const raw = JSON.stringify(await ctx.redis.xrange(globalEventsKey('gh:'), '-', '+')) + JSON.stringify(await ctx.redis.xrange(userEventsKey('gh:', 'leaky-user'), '-', '+'))
  t.notMatch(raw, /hunter2|leak@example|ghr_x/)
})

t.test('the global stream names users only by an HMAC; deletion leaves nothing that names the person', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: u.cookie } })
  const raw = JSON.stringify(await ctx.redis.xrange(globalEventsKey('gh:'), '-', '+'))
  t.notOk(raw.includes(u.userId), 'no plain user id')
  t.notOk(raw.includes(u.email), 'no address')
  t.notOk(raw.includes('127.0.0.1'), 'no IP address')
  t.notOk(raw.includes('lightMyRequest'), 'no user agent')
  const mine = (await globalEvents(ctx)).filter(e => e.subject === eventSubject(ctx.app.events.subjectKey, u.userId))
  t.same(mine.map(e => e.type).sort(), ['session.signed_in', 'session.signed_out', 'user.email_verified', 'user.signed_up'])
  t.match(mine[0].subject, /^[A-Za-z0-9_-]{43}$/)

  t.ok(await ctx.redis.exists(userEventsKey('gh:', u.userId), userDevicesKey('gh:', u.userId)) === 2)
  await deleteUserEvents(ctx.redis, 'gh:', u.userId)
  t.equal(await ctx.redis.exists(userEventsKey('gh:', u.userId), userDevicesKey('gh:', u.userId)), 0, 'the stream and the device set are gone')
  const keys = await ctx.redis.keys('*')
  const left = (await Promise.all(keys.filter(k => k.includes('events')).map(async k => JSON.stringify(await ctx.redis.xrange(k, '-', '+'))))).join('')
  t.notOk(left.includes(u.userId) || left.includes(u.email), 'no event left names the user')
})

t.test('the user\'s keys share the user\'s Cluster slot', async t => {
  const { keySlot } = await import('../../src/redis/key-slot.js')
  const users = (await build(t)).app.users
  const id = '6f1c1b1e-1111-4222-8333-944455556666'
  t.equal(keySlot(userEventsKey('gh:', id)), keySlot(users.userKey(id)))
  t.equal(keySlot(userDevicesKey('gh:', id)), keySlot(userEventsKey('gh:', id)))
})
