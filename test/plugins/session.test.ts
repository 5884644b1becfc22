import t from 'tap'
import { build, signedInUser } from '../helper.js'

t.test('every authenticated response carries the one session cookie with Max-Age', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  t.equal(me.statusCode, 200)
  const header = me.headers['set-cookie']
  const cookies = (Array.isArray(header) ? header : [header]).filter((h): h is string => typeof h === 'string')
  t.equal(cookies.length, 1, 'one Set-Cookie')
  t.ok(cookies[0].startsWith(`${u.cookie};`), 'the same session id')
  t.match(cookies[0], new RegExp(`Max-Age=${ctx.config.sessionTtlMs / 1000}(;|$)`))
  t.match(cookies[0], /HttpOnly/)
  t.match(cookies[0], /Path=\//)
  t.match(cookies[0], /SameSite=Strict/)
})

t.test('a response without a session sets no cookie', async t => {
  const ctx = await build(t)
  const me = await ctx.app.inject({ url: '/api/auth/me' })
  t.equal(me.statusCode, 401)
  t.equal(me.headers['set-cookie'], undefined)
  const health = await ctx.app.inject({ url: '/health/live' })
  t.equal(health.headers['set-cookie'], undefined)
})
