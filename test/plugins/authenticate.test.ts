import t from 'tap'
import { build, signedInUser } from '../helper.js'

async function commandCalls (ctx: Awaited<ReturnType<typeof build>>): Promise<Record<string, number>> {
  const text = await ctx.redis.info('commandstats')
  const out: Record<string, number> = {}
  for (const line of text.split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (m !== null) out[m[1]] = Number(m[2])
  }
  return out
}

t.test('GET /me reads the session and the user in one Redis command and writes nothing', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  await ctx.redis.config('RESETSTAT')
  for (let i = 0; i < 5; i++) {
    const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(me.statusCode, 200)
    t.equal(me.json().user.email, u.email)
  }
  const calls = await commandCalls(ctx)
  // INFO and CONFIG come from the test's own connection.
  // The first call of a script may be an EVAL (after EVALSHA answered NOSCRIPT).
  t.equal((calls.evalsha ?? 0) + (calls.eval ?? 0), 5, 'one script call per request')
  t.equal(calls.hmget ?? 0, 5, 'the user is read inside that script')
  t.equal(calls.hgetall ?? 0, 0)
  t.equal(calls.pttl ?? 0, 0, 'no expiry check while "last seen" is within the slide step')
  t.equal(calls.set ?? 0, 0, 'no session write within the slide step')
  t.equal(calls.zadd ?? 0, 0)
})

t.test('a session whose user was deleted answers 401 and is ended', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const id = u.userId
  await ctx.redis.del(`gh:user:{${id}}`)
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  t.equal(me.statusCode, 401)
  t.equal(me.json().code, 'UNAUTHENTICATED')
  t.equal((await ctx.redis.keys('gh:sess:*')).length, 0, 'the session is gone from Redis')
})

t.test('a session whose user was disabled answers 401 and ends every session and token family of the user', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const id = u.userId
  const other = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: u.password } })
  const token = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: u.password } })
  t.equal(token.statusCode, 200)
  await ctx.redis.hset(`gh:user:{${id}}`, 'disabled', '1')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  t.equal(me.statusCode, 401)
  t.match(String(me.headers['set-cookie']), /sessionId=;/, 'the cookie is expired')
  const again = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  t.equal(again.statusCode, 401)
  t.equal(other.statusCode, 200)
  t.equal((await ctx.app.sessionStore.indexed(id)).length, 0, 'the other cookie session is ended too')
  t.equal(await ctx.redis.zcard(`gh:user:{${id}}:tokens`), 0, 'and the token family')
  t.equal((await ctx.redis.keys('gh:sess:*')).length, 0)
})

t.test('a bearer token of a disabled user answers 401 and ends the cookie sessions too', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const id = u.userId
  const token = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: u.password } })
  await ctx.redis.hset(`gh:user:{${id}}`, 'disabled', '1')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${token.json().accessToken as string}` } })
  t.equal(me.statusCode, 401)
  t.equal(await ctx.redis.zcard(`gh:user:{${id}}:tokens`), 0)
  t.equal((await ctx.redis.keys('gh:sess:*')).length, 0, 'the cookie session is ended')
})

t.test('a change to the user is seen by the next request', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const id = u.userId
  await ctx.redis.hset(`gh:user:{${id}}`, 'firstName', 'Ada')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
  t.equal(me.json().user.firstName, 'Ada')
})

t.test('many concurrent requests on one session each see their user', async t => {
  const ctx = await build(t)
  const a = await signedInUser(ctx)
  const b = await signedInUser(ctx)
  const res = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const u = i % 2 === 0 ? a : b
    const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    return { expected: u.email, got: me.json().user.email as string }
  }))
  for (const r of res) t.equal(r.got, r.expected)
})

t.test('concurrent requests of one session all use the user read with their session', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  await ctx.redis.config('RESETSTAT')
  const res = await Promise.all(Array.from({ length: 30 }, async () => await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })))
  for (const r of res) t.equal(r.json().user.email, u.email)
  const calls = await commandCalls(ctx)
  t.equal(calls.hmget ?? 0, (calls.evalsha ?? 0) + (calls.eval ?? 0), 'the user read is the one in each script')
  t.equal(calls.hgetall ?? 0, 0, 'and no other')
})
