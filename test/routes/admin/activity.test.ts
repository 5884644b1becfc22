import t from 'tap'
import { build, PASSWORD, signedInUser } from '../../helper.js'
import { run } from '../../../src/cli/user.js'
import { eventSubject } from '../../../src/events/store.js'

t.test('the admin API reads any user\'s events and the global stream', async t => {
  const ctx = await build(t)
  const admin = await signedInUser(ctx)
  t.equal(await run(['role', admin.email, 'admin'], ctx.app, () => {}), 0)
  const u = await signedInUser(ctx)
  await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: 'wrong password' } })
  const get = async (url: string, cookie: string) => await ctx.app.inject({ url, headers: { cookie } })

  await t.test('a user\'s events, as the user sees them', async t => {
    const res = await get(`/api/admin/users/${u.userId}/activity`, admin.cookie)
    t.equal(res.statusCode, 200)
    t.same(res.json(), (await get('/api/auth/activity', u.cookie)).json())
    t.equal(res.json().events[0].type, 'session.sign_in_failed')
    const none = await get('/api/admin/users/00000000-0000-4000-8000-000000000000/activity', admin.cookie)
    t.same(none.json(), { events: [], nextCursor: null }, 'no such user: an empty page')
  })

  await t.test('the global stream, users named by subject only', async t => {
    const res = await get('/api/admin/activity?limit=100', admin.cookie)
    t.equal(res.statusCode, 200)
    const events = res.json().events as Array<Record<string, unknown>>
    t.equal(events.length, 7, 'three of the admin, four of the user')
    t.ok(events.every(e => Object.keys(e).sort().join() === 'at,data,id,subject,type'), 'no ip or user agent')
    const mine = events.filter(e => e.subject === eventSubject(ctx.app.events.subjectKey, u.userId))
    t.same(mine.map(e => e.type), ['session.sign_in_failed', 'session.signed_in', 'user.email_verified', 'user.signed_up'])
    t.notOk(res.body.includes(u.userId) || res.body.includes(u.email), 'no plain id or address')
    const paged = (await get('/api/admin/activity?limit=2', admin.cookie)).json()
    t.equal(paged.events.length, 2)
    const next = (await get(`/api/admin/activity?limit=2&cursor=${paged.nextCursor}`, admin.cookie)).json()
    t.same([...paged.events, ...next.events], events.slice(0, 4))
  })

  await t.test('not an admin: 403; not signed in: 401; bad input: 400', async t => {
    for (const url of [`/api/admin/users/${admin.userId}/activity`, '/api/admin/activity']) {
      const forbidden = await get(url, u.cookie)
      t.equal(forbidden.statusCode, 403)
      t.equal(forbidden.json().code, 'FORBIDDEN')
      t.equal((await ctx.app.inject({ url })).statusCode, 401)
      t.equal((await get(`${url}?limit=0`, admin.cookie)).statusCode, 400)
      t.equal((await get(`${url}?cursor=x`, admin.cookie)).statusCode, 400)
    }
    t.equal((await get('/api/admin/users/not-a-uuid/activity', admin.cookie)).statusCode, 400)
    t.equal((await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: admin.email, password: PASSWORD } })).statusCode, 200)
  })
})
