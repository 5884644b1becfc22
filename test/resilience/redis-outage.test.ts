import t from 'tap'
import { request, kill9, redisAt, signedInUser, startServer, tempDir, until, PASSWORD, uniqueEmail, startApiServer } from '../helper.js'

// Generous bounds: they catch a hang, not a slow machine.
const ANSWER_BOUND_MS = 10_000

t.test('Redis killed mid-traffic: 503 with Retry-After at once, then 200 again without restarting the server', async t => {
  const server = await startApiServer(t)
  let redis = server.redis
  const { cookie } = await signedInUser(server, uniqueEmail('outage'))

  // Traffic that keeps going while Redis dies and comes back.
  const statuses: number[] = []
  const problems: Array<{ code?: string, retryAfter: string | null }> = []
  const traffic = { on: true }
  const loop = (async () => {
    while (traffic.on) {
      const r = await request(server.url, 'GET', '/api/auth/me', { cookie, timeoutMs: ANSWER_BOUND_MS })
      statuses.push(r.status)
      if (r.status !== 200) problems.push({ code: r.body?.code, retryAfter: r.headers.get('retry-after') })
    }
  })()
  await until('some traffic answered', async () => statuses.length >= 3)

  await kill9(redis)

  const me = await request(server.url, 'GET', '/api/auth/me', { cookie, timeoutMs: ANSWER_BOUND_MS })
  t.equal(me.status, 503, 'a route that needs Redis answers 503')
  t.equal(me.body.code, 'SERVICE_UNAVAILABLE')
  t.equal(me.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(me.headers.get('retry-after'), '1')
  t.ok(me.ms < ANSWER_BOUND_MS, `answered in ${Math.round(me.ms)} ms`)

  const login = await request(server.url, 'POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: PASSWORD }, timeoutMs: ANSWER_BOUND_MS })
  t.equal(login.status, 503, 'login answers 503 too')

  const ready = await request(server.url, 'GET', '/health/ready', { timeoutMs: ANSWER_BOUND_MS })
  t.equal(ready.status, 503, '/health/ready turns 503')
  t.equal(ready.body.status, 'unavailable')
  const live = await request(server.url, 'GET', '/health/live')
  t.equal(live.status, 200, '/health/live stays 200: the process is fine')
  const metrics = await request(server.url, 'GET', '/metrics')
  t.equal(metrics.status, 200, '/metrics answers without Redis')
  t.match(metrics.body, /^gatehouse_redis_up 0$/m)
  t.match(metrics.body, /^gatehouse_active_sessions -1$/m)
  const notFound = await request(server.url, 'GET', '/no/such/route')
  t.equal(notFound.status, 404, 'an unknown URL is still a 404, not a 503')

  // Same port, same data directory: the AOF brings the session back.
  redis = await redisAt(t, redis.dir, redis.port)
  await until('ready again', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)
  const back = await request(server.url, 'GET', '/api/auth/me', { cookie })
  t.equal(back.status, 200, 'the same session works again, the server was never restarted')
  t.equal(server.child.exitCode, null, 'the server process is still the first one')

  traffic.on = false
  await loop
  t.ok(statuses.includes(503), 'the traffic saw the outage')
  t.equal(statuses.at(-1), 200, 'and recovered')
  t.same([...new Set(statuses)].sort(), [200, 503], 'no answer other than 200 or 503 (no 500, no hang)')
  t.ok(problems.every(p => p.code === 'SERVICE_UNAVAILABLE' && p.retryAfter === '1'), 'every 503 is SERVICE_UNAVAILABLE with Retry-After: 1')

  const after = await request(server.url, 'GET', '/metrics')
  t.match(after.body, /^gatehouse_redis_up 1$/m)
  const errors = /^gatehouse_redis_errors_total\{kind="connection"\} (\d+)$/m.exec(after.body)
  t.ok(Number(errors?.[1]) > 0, 'Redis connection errors are counted')
  const notReady = /^gatehouse_redis_errors_total\{kind="not_ready"\} (\d+)$/m.exec(after.body)
  t.ok(Number(notReady?.[1]) > 0, 'requests refused at once while Redis was disconnected are counted')
})

t.test('a server started while Redis is down serves 503 and heals when Redis starts', async t => {
  const dir = await tempDir(t, 'redis')
  const outbox = await tempDir(t, 'outbox')
  // Start a Redis only to learn a free port for it, then stop it.
  const first = await redisAt(t, dir)
  await kill9(first)
  const server = await startServer(t, { REDIS_URL: first.url, MAIL_OUTBOX_DIR: outbox })
  const down = await request(server.url, 'POST', '/api/auth/register', { body: { email: uniqueEmail('late'), password: PASSWORD }, timeoutMs: ANSWER_BOUND_MS })
  t.equal(down.status, 503)
  t.equal(down.body.code, 'SERVICE_UNAVAILABLE')
  t.equal((await request(server.url, 'GET', '/health/ready')).status, 503)

  await redisAt(t, dir, first.port)
  await until('ready', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)
  const { cookie } = await signedInUser({ url: server.url, outbox }, uniqueEmail('late'))
  t.equal((await request(server.url, 'GET', '/api/auth/me', { cookie })).status, 200)
})
