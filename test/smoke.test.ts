import t from 'tap'
import { build, signedInUser } from './helper.js'

t.test('smoke', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  t.equal(u.login.statusCode, 200)
  console.log(u.login.headers['set-cookie'], u.login.body)
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  console.log(me.statusCode, me.headers['set-cookie'], me.body)
  console.log(await ctx.redis.keys('*'))
})
