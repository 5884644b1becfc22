import t from 'tap'
import { build, PASSWORD, signedInUser, type TestContext } from '../../helper.js'
import { userEventsKey } from '../../../src/events/store.js'

async function activity (ctx: TestContext, query: string, headers: Record<string, string>) {
  return await ctx.app.inject({ method: 'GET', url: `/api/auth/activity${query}`, headers })
}

t.test('GET /activity', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const other = await signedInUser(ctx)
  await ctx.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': 'Second Browser' }, payload: { email: u.email, password: PASSWORD } })
  await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: 'wrong password' } })

  await t.test('shows the user their own events, newest first, in the documented shape', async t => {
    const res = await activity(ctx, '', { cookie: u.cookie })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['events', 'nextCursor'])
    t.equal(body.nextCursor, null)
    t.same(body.events.map((e: { type: string }) => e.type), ['session.sign_in_failed', 'session.signed_in', 'session.signed_in', 'user.email_verified', 'user.signed_up'])
    const [failed, second] = body.events
    t.same(Object.keys(second).sort(), ['at', 'data', 'id', 'ip', 'type', 'userAgent'])
    t.match(second, { ip: '127.0.0.1', userAgent: 'Second Browser', data: { method: 'password', kind: 'cookie', newDevice: true } })
    t.match(failed, { data: { method: 'password', failures: 1 } })
    t.match(second.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    t.ok(body.events.every((e: { id: string }) => /^[0-9a-f-]{36}$/.test(e.id)))
    const others = (await activity(ctx, '', { cookie: other.cookie })).json().events as Array<{ id: string }>
    t.notOk(others.some(e => body.events.some((m: { id: string }) => m.id === e.id)), 'another user sees none of them')
  })

  await t.test('pages with limit and cursor', async t => {
    const first = (await activity(ctx, '?limit=2', { cookie: u.cookie })).json()
    t.equal(first.events.length, 2)
    t.match(first.nextCursor, /^\d+-\d+$/)
    const second = (await activity(ctx, `?limit=2&cursor=${first.nextCursor}`, { cookie: u.cookie })).json()
    const third = (await activity(ctx, `?limit=2&cursor=${second.nextCursor}`, { cookie: u.cookie })).json()
    t.same([...first.events, ...second.events, ...third.events].map((e: { id: string }) => e.id), (await activity(ctx, '', { cookie: u.cookie })).json().events.map((e: { id: string }) => e.id))
    t.equal(third.nextCursor, null)
  })

  await t.test('a bearer token works as well as the cookie', async t => {
    const grant = (await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: PASSWORD } })).json()
    const res = await activity(ctx, '?limit=1', { authorization: `Bearer ${grant.accessToken}` })
    t.equal(res.statusCode, 200)
    t.match(res.json().events[0], { type: 'session.signed_in', data: { kind: 'token' } })
  })

  await t.test('without a session: 401', async t => {
    const res = await activity(ctx, '', {})
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'UNAUTHENTICATED')
  })

  await t.test('bad queries answer 400 and change nothing', async t => {
    const key = userEventsKey('gh:', u.userId)
    const before = await ctx.redis.xlen(key)
    for (const query of ['?limit=0', '?limit=101', '?limit=abc', '?limit=1.5', '?limit=-1', '?cursor=abc', '?cursor=1-2-3', `?cursor=${'9'.repeat(30)}-0`, '?cursor=%00', '?cursor=%F0%9F%98%80', '?other=1', '?limit=5&limit=6']) {
      const res = await activity(ctx, query, { cookie: u.cookie })
      t.equal(res.statusCode, 400, query)
      t.equal(res.json().code, 'VALIDATION_FAILED', query)
    }
    t.equal(await ctx.redis.xlen(key), before)
  })
})

t.test('many sign-ins at once: exactly one is the account\'s first', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  // A fresh account, many browsers at once: only one may be taken for the first sign-in.
  await ctx.redis.del(`gh:devices:{${u.userId}}`)
  const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => await ctx.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': `browser ${i}` }, payload: { email: u.email, password: PASSWORD } })))
  t.ok(answers.every(r => r.statusCode === 200))
  const events = (await activity(ctx, '?limit=100', { cookie: u.cookie })).json().events as Array<{ type: string, data: Record<string, unknown> }>
  const signIns = events.filter(e => e.type === 'session.signed_in').slice(0, 12)
  t.equal(signIns.filter(e => e.data.newDevice === false).length, 1, 'one counted as the first')
})

t.test('many wrong passwords at once: one back-off started', async t => {
  // Attempts in flight are counted as they arrive (src/accounts/login-throttle.ts, RESERVE).
  const ctx = await build(t, { LOGIN_FREE_FAILURES: '3' })
  const v = await signedInUser(ctx)
  await Promise.all(Array.from({ length: 10 }, async () => await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: v.email, password: 'wrong password' } })))
  const after = (await activity(ctx, '?limit=100', { cookie: v.cookie })).json().events as Array<{ type: string }>
  t.equal(after.filter(e => e.type === 'session.backoff_started').length, 1, 'one back-off started')
  t.equal(after.filter(e => e.type === 'session.sign_in_failed').length, 3, 'only the attempts let through were tried and failed')
})
