import t from 'tap'
import { request, kill9, redisAt, redisCli, signedInUser, until, uniqueEmail, startApiServer } from '../helper.js'

// Generous bound: it catches a hang (a request waiting for Redis forever), not a slow machine.
const ANSWER_BOUND_MS = 10_000

/** Sum of all rate-limit counters (register, verify and login each have their own key). */
function loginCounter (port: number): number {
  const keys = redisCli(['-p', String(port), '--scan', '--pattern', 'gh:rl:*']).trim().split('\n').filter(Boolean)
  return keys.reduce((sum, key) => sum + Number(redisCli(['-p', String(port), 'GET', key]).trim()), 0)
}

t.test('a Redis paused with SIGSTOP gets 503 within the command timeout; the write sent meanwhile is applied once', async t => {
  const server = await startApiServer(t, { env: { REDIS_COMMAND_TIMEOUT_MS: '500' } })
  const redis = server.redis
  const email = uniqueEmail('stall')
  const { cookie } = await signedInUser(server, email)
  t.equal((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' } })).status, 401)
  const before = loginCounter(redis.port)

  redis.process.kill('SIGSTOP')
  try {
    const me = await request(server.url, 'GET', '/api/auth/me', { cookie, timeoutMs: ANSWER_BOUND_MS })
    t.equal(me.status, 503, 'the session read times out: 503')
    t.equal(me.body.code, 'SERVICE_UNAVAILABLE')
    t.equal(me.headers.get('retry-after'), '1')
    t.ok(me.ms < ANSWER_BOUND_MS, `answered in ${Math.round(me.ms)} ms`)
    const ready = await request(server.url, 'GET', '/health/ready', { timeoutMs: ANSWER_BOUND_MS })
    t.equal(ready.status, 503, '/health/ready is 503 while Redis is stalled')
    // The rate limiter's INCR is written to the socket, times out, and the login gets 503.
    const login = await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' }, timeoutMs: ANSWER_BOUND_MS })
    t.equal(login.status, 503, 'a login during the stall answers 503')
    t.equal((await request(server.url, 'GET', '/health/live')).status, 200, 'the process itself is fine')
  } finally {
    redis.process.kill('SIGCONT')
  }

  await until('ready again', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)
  t.equal((await request(server.url, 'GET', '/api/auth/me', { cookie })).status, 200, 'the session works again')
  t.equal(loginCounter(redis.port), before + 1, 'the INCR sent during the stall ran exactly once when Redis woke up')
})

t.test('a command pending when the connection dies is not resent after reconnecting', async t => {
  const server = await startApiServer(t, { env: { REDIS_COMMAND_TIMEOUT_MS: '500' } })
  let redis = server.redis
  const email = uniqueEmail('resend')
  await signedInUser(server, email)
  t.equal((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' } })).status, 401)
  const before = loginCounter(redis.port)

  // Stalled Redis: the INCR sits unread in its socket; then Redis dies without reading it.
  redis.process.kill('SIGSTOP')
  const login = await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' }, timeoutMs: ANSWER_BOUND_MS })
  t.equal(login.status, 503)
  await kill9(redis)
  redis = await redisAt(t, redis.dir, redis.port)
  await until('ready again', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)

  t.equal(loginCounter(redis.port), before, 'the unanswered INCR was not replayed on the new connection')
  t.equal((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: 'wrong password!' } })).status, 401)
  t.equal(loginCounter(redis.port), before + 1, 'the next attempt counts once')
})
