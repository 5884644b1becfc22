import t from 'tap'
import { request, redisAt, startServer, tempDir, PASSWORD, tokenFromOutbox, uniqueEmail } from '../helper.js'

t.test('two server processes on one Redis share sessions and rate limits', async t => {
  const dir = await tempDir(t, 'redis')
  const outbox = await tempDir(t, 'outbox')
  const redis = await redisAt(t, dir)
  const LIMIT = 4
  // Same Redis, same SESSION_SECRET (startServer sets it): nothing else is shared.
  const env = { REDIS_URL: redis.url, MAIL_OUTBOX_DIR: outbox, LOGIN_RATE_LIMIT: String(LIMIT) }
  const [a, b] = await Promise.all([startServer(t, env), startServer(t, env)])
  t.not(a.child.pid, b.child.pid)

  const email = uniqueEmail('two')
  t.equal((await request(a.url, 'POST', '/api/auth/register', { body: { email, password: PASSWORD } })).status, 202, 'registered on A')
  const token = await tokenFromOutbox(outbox, email, 'verify-email')
  t.equal((await request(b.url, 'POST', '/api/auth/verify-email', { body: { token } })).status, 200, 'verified on B')
  t.equal((await request(a.url, 'POST', '/api/auth/verify-email', { body: { token } })).status, 400, 'the token is spent for A as well')

  const login = await request(a.url, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } })
  t.equal(login.status, 200, 'login on A (rate-limit count 1)')
  const cookie = login.cookie as string
  const me = await request(b.url, 'GET', '/api/auth/me', { cookie })
  t.equal(me.status, 200, '/me on B with the cookie from A')
  t.equal(me.body.user.email, email)
  const out = await request(b.url, 'POST', '/api/auth/logout', { cookie, headers: { 'x-csrf-token': login.body.csrfToken } })
  t.equal(out.status, 204, 'logout on B')
  t.equal((await request(a.url, 'GET', '/api/auth/me', { cookie })).status, 401, 'the session is gone for A too')

  // Attempts 2..LIMIT alternate between the processes; one shared counter stops attempt LIMIT+1.
  const statuses: number[] = []
  for (let attempt = 2; attempt <= LIMIT + 1; attempt++) {
    const server = attempt % 2 === 0 ? b : a
    statuses.push((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' } })).status)
  }
  t.same(statuses, [...Array(LIMIT - 1).fill(401), 429], `the ${LIMIT + 1}th login across both processes is refused`)
  const other = await request(b.url, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } })
  t.equal(other.status, 429, 'and the other process refuses too, even with the right password')
  t.equal(other.body.code, 'RATE_LIMITED')
  t.ok(Number(other.headers.get('retry-after')) > 0, 'with Retry-After')
})
