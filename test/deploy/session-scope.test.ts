import t from 'tap'
import { build, signedInUser } from '../helper.js'

/*
 * Sessions are read only where they are used, under /api/auth. Health checks, metrics, the
 * API reference and the demo page never touch Redis for a session, so a browser that
 * carries a cookie still gets them while Redis is down, and a liveness probe never fails
 * because of Redis.
 */

t.test('with a session cookie and Redis down, only the API needs Redis', async t => {
  const ctx = await build(t)
  const { cookie } = await signedInUser(ctx)
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 200, 'signed in')

  await ctx.server.stop()
  for (const url of ['/health/live', '/', '/app.js', '/app.css', '/verify-email', '/openapi.json', '/docs/', '/metrics']) {
    const res = await ctx.app.inject({ url, headers: { cookie } })
    t.equal(res.statusCode, 200, `${url} answers 200 with the cookie`)
    t.notOk([res.headers['set-cookie']].flat().some(c => c?.startsWith('sessionId=')), `${url} leaves the cookie alone`)
  }
  const ready = await ctx.app.inject({ url: '/health/ready', headers: { cookie } })
  t.equal(ready.statusCode, 503, '/health/ready reports Redis')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })
  t.equal(me.statusCode, 503, 'the API answers 503 while it cannot read the session')
  t.equal(me.json().code, 'SERVICE_UNAVAILABLE')
})
