import t from 'tap'
import { build, cookieOf, PASSWORD, registerUser, signedInUser, uniqueEmail } from '../helper.js'

function sample (body: string, metric: string): number | undefined {
  const line = body.split('\n').find(l => l.startsWith(metric + ' '))
  return line === undefined ? undefined : Number(line.slice(metric.length + 1))
}

t.test('GET /metrics reports requests by route template, logins by outcome, sessions, Redis and the event loop', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const wrong = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: 'not the password' } })
  t.equal(wrong.statusCode, 401)
  const pending = await registerUser(ctx, uniqueEmail('pending'))
  t.equal((await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: pending.email, password: PASSWORD } })).statusCode, 403)
  // A secret in the query string and an address in an unknown path must not become labels.
  await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email?token=SECRETTOKENVALUE', payload: { token: 'SECRETTOKENVALUE' } })
  await ctx.app.inject({ url: `/api/auth/users/${encodeURIComponent(u.email)}` })

  const res = await ctx.app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const body = res.body
  t.equal(sample(body, 'gatehouse_logins_total{outcome="success"}'), 1)
  t.equal(sample(body, 'gatehouse_logins_total{outcome="invalid_credentials"}'), 1)
  t.equal(sample(body, 'gatehouse_logins_total{outcome="email_not_verified"}'), 1)
  t.equal(sample(body, 'gatehouse_http_requests_total{method="POST",route="/api/auth/login",status_code="200"}'), 1)
  t.equal(sample(body, 'gatehouse_http_requests_total{method="POST",route="/api/auth/login",status_code="401"}'), 1)
  t.equal(sample(body, 'gatehouse_http_requests_total{method="POST",route="/api/auth/verify-email",status_code="400"}'), 1, 'the route template, without the query')
  t.equal(sample(body, 'gatehouse_http_requests_total{method="GET",route="unmatched",status_code="404"}'), 1, 'unknown paths share one label')
  t.ok(sample(body, 'gatehouse_http_request_duration_seconds_count{method="POST",route="/api/auth/login",status_code="200"}') === 1, 'latency histogram by route and status')
  t.match(body, /^gatehouse_http_request_duration_seconds_bucket\{le="0\.1",method="POST",route="\/api\/auth\/login",status_code="200"\} \d+$/m)
  t.notOk(body.includes('SECRETTOKENVALUE'), 'no token in the metrics')
  t.notOk(body.includes(u.email) || body.includes(encodeURIComponent(u.email)), 'no email address in the metrics')
  t.equal(sample(body, 'gatehouse_active_sessions'), 1, 'one live session')
  t.equal(sample(body, 'gatehouse_redis_up'), 1)
  t.equal(sample(body, 'gatehouse_redis_errors_total{kind="command"}'), 0)
  t.ok((sample(body, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop lag')
  t.match(body, /^nodejs_eventloop_lag_p99_seconds \S+$/m)

  const out = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: u.cookie, 'x-csrf-token': u.csrfToken } })
  t.equal(out.statusCode, 204)
  const after = (await ctx.app.inject({ url: '/metrics' })).body
  t.equal(sample(after, 'gatehouse_active_sessions'), 0, 'the logout left the census')
})

t.test('the session census follows logins, the end of all sessions and expiry', async t => {
  const ctx = await build(t, { SESSION_TTL: '2' })
  const u = await signedInUser(ctx)
  const second = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: PASSWORD } })
  t.ok(cookieOf(second))
  const count = async (): Promise<number | undefined> => sample((await ctx.app.inject({ url: '/metrics' })).body, 'gatehouse_active_sessions')
  t.equal(await count(), 2)
  // The census is a sorted set scored by expiry: expired members are pruned on scrape.
  const members = await ctx.redis.zrange('gh:sessions:live', 0, -1, 'WITHSCORES')
  t.equal(members.length, 4)
  t.ok(Number(members[1]) <= Date.now() + 2000, 'scored by the session expiry')
  await ctx.redis.zadd('gh:sessions:live', Date.now() - 1, 'expired-digest')
  t.equal(await count(), 2, 'an expired entry is not counted')
})

t.test('with METRICS_TOKEN, /metrics wants the bearer token', async t => {
  const token = 'metrics-token-0123456789'
  const ctx = await build(t, { METRICS_TOKEN: token })
  const none = await ctx.app.inject({ url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'UNAUTHENTICATED')
  t.equal(none.headers['www-authenticate'], 'Bearer realm="metrics"')
  t.equal((await ctx.app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode, 401)
  const ok = await ctx.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /gatehouse_http_requests_total/)
})
