import t from 'tap'
import net from 'node:net'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../../src/app.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { startApiServer } from '../support/processes.js'
import { PASSWORD, signedInUser, uniqueEmail } from '../helper.js'
import { ip, target } from './attack.js'

interface RawAnswer { status: number, headers: string, body: string, closedAfterMs: number }

/** Writes `chunks` to a fresh connection, `gapMs` apart, and reads until the server closes it. */
async function raw (port: number, chunks: string[], gapMs = 0, giveUpMs = 10_000): Promise<RawAnswer> {
  return await new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    let timer: NodeJS.Timeout | undefined
    const giveUp = setTimeout(() => { socket.destroy(); reject(new Error(`no close after ${giveUpMs} ms; got ${data.slice(0, 200)}`)) }, giveUpMs)
    socket.on('data', d => { data += d.toString() })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(giveUp)
      clearTimeout(timer)
      const [head, ...rest] = data.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n'), closedAfterMs: Date.now() - started })
    })
    let i = 0
    const next = (): void => {
      if (socket.destroyed || i >= chunks.length) return
      socket.write(chunks[i++])
      timer = setTimeout(next, gapMs)
    }
    socket.on('connect', next)
  })
}

function problemOf (a: RawAnswer): { code: string, status: number, detail: string } {
  return JSON.parse(a.body) as { code: string, status: number, detail: string }
}

t.test('errors before and around routing are problem documents, never a 500 or Fastify\'s own JSON', async t => {
  const s = await target(t)
  const port = Number(new URL(s.base).port)
  const get = async (path: string, extra = ''): Promise<RawAnswer> => await raw(port, [`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`])

  for (const path of ['/docs/static/../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/..%2f..%2fpackage.json']) {
    const a = await get(path)
    t.equal(a.status, 404, `${path}: 404`)
    t.match(a.headers, /content-type: application\/problem\+json/i)
    t.equal(problemOf(a).code, 'NOT_FOUND')
    t.notMatch(a.body, /"name"\s*:\s*"gatehouse"|at .*\.js:\d+/, 'neither the file nor a stack')
  }

  const badUrl = await get('/api/auth/%zz')
  t.equal(badUrl.status, 400)
  t.match(badUrl.headers, /application\/problem\+json/)
  t.equal(problemOf(badUrl).code, 'VALIDATION_FAILED')
  t.notMatch(badUrl.body, /FST_ERR/, 'no framework code leaks')

  const huge = await get('/api/auth/me', `X-Filler: ${'a'.repeat(64 * 1024)}\r\n`)
  t.equal(huge.status, 431)
  t.match(huge.headers, /application\/problem\+json/)
  t.equal(problemOf(huge).code, 'REQUEST_HEADERS_TOO_LARGE')

  const garbage = await raw(port, ['NOT HTTP AT ALL\r\n\r\n'])
  t.equal(garbage.status, 400)
  t.equal(problemOf(garbage).code, 'VALIDATION_FAILED')
})

t.test('a body that trickles in is cut off with a 408 problem and a closed connection', async t => {
  const options = serverOptions(loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://127.0.0.1:1' }))
  t.ok(typeof options.requestTimeout === 'number' && options.requestTimeout > 0 && options.requestTimeout <= 60_000, `the server sets requestTimeout (${String(options.requestTimeout)} ms)`)
  t.equal((options.http as { requestTimeout?: number } | undefined)?.requestTimeout, options.requestTimeout, 'and hands it to http.createServer, where Node reads it')

  const s = await target(t)
  // The same app with a short timeout, so the test need not wait half a minute.
  const fast = Fastify({ ...serverOptions(s.config), requestTimeout: 1000, http: { requestTimeout: 1000, connectionsCheckingInterval: 100 } })
  await fast.register(fp(app), { config: s.config })
  await fast.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => await fast.close())
  const port = (fast.server.address() as net.AddressInfo).port
  const body = JSON.stringify({ email: uniqueEmail('slow'), password: PASSWORD })
  const head = `POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
  // One byte every 300 ms: the whole body would take about 20 s.
  const a = await raw(port, [head, ...body.split('')], 300)
  t.equal(a.status, 408)
  t.equal(problemOf(a).code, 'REQUEST_TIMEOUT')
  t.ok(a.closedAfterMs < 5000, `cut after ${a.closedAfterMs} ms`)
})

t.test('Redis out of memory: 503 with Retry-After on every write path, and readiness says so', async t => {
  const s = await target(t)
  const user = await signedInUser(s, uniqueEmail('oom'))
  t.equal((await s.send(ip(1), 'GET', '/health/ready')).status, 200)
  await s.redis.config('SET', 'maxmemory', '1')
  t.teardown(async () => { await s.redis.config('SET', 'maxmemory', '0') })
  const refused = uniqueEmail('oom')
  const answers = await Promise.all([
    s.send(ip(1), 'POST', '/api/auth/register', { email: refused, password: PASSWORD, username: `oom_${process.pid}` }),
    s.send(ip(2), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD }),
    s.send(ip(3), 'POST', '/api/auth/login', { email: user.email, password: 'a wrong password' }),
    s.send(ip(4), 'POST', '/api/auth/password/forgot', { email: user.email })
  ])
  for (const a of answers) {
    t.equal(a.status, 503, `${a.status} ${JSON.stringify(a.body)}`)
    t.equal(a.body.code, 'SERVICE_UNAVAILABLE')
    t.ok(Number(a.headers.get('retry-after')) >= 1, 'Retry-After')
  }
  t.equal(await s.redis.exists(`gh:email:${refused}`, `gh:username:oom_${process.pid}`), 0, 'the refused registration claimed neither its address nor its username')
  const ready = await s.send(ip(1), 'GET', '/health/ready')
  t.equal(ready.status, 503)
  t.same(ready.body, { status: 'unavailable', redis: 'out-of-memory' })
  t.ok(Number(ready.headers.get('retry-after')) >= 1)
  await s.redis.config('SET', 'maxmemory', '0')
  t.equal((await s.send(ip(1), 'GET', '/health/ready')).status, 200, 'ready again once memory is there')
  t.equal((await s.send(ip(2), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD })).status, 200)
})

t.test('production refuses to start while /metrics would be open', async t => {
  const prod = { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32), REDIS_URL: 'redis://127.0.0.1:1' }
  t.ok((() => { try { loadConfig(prod) } catch (err) { return err instanceof ConfigError } return false })(), 'a ConfigError')
  t.throws(() => loadConfig(prod), /^invalid configuration: METRICS_TOKEN is required when NODE_ENV=production/)
  t.ok(loadConfig({ ...prod, METRICS_TOKEN: 'm'.repeat(32) }), 'with a token it starts')
  // The real process: exits with the one line instead of serving.
  const err = await startApiServer(t, { env: { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32) } }).then(() => null, (e: Error) => e)
  t.match(err?.message, /exited.*METRICS_TOKEN is required when NODE_ENV=production/s)
})

t.test('two session cookies in one request count as none, whichever comes first', async t => {
  const s = await target(t)
  const a = await signedInUser(s, uniqueEmail('cookie-a'))
  const b = await signedInUser(s, uniqueEmail('cookie-b'))
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie: a.cookie })).status, 200)
  // A sibling subdomain planted its own session cookie with a longer path: the browser sends both.
  for (const cookie of [`${b.cookie}; ${a.cookie}`, `${a.cookie}; ${b.cookie}`, `${a.cookie}; ${a.cookie}`, `other=1; ${a.cookie};${b.cookie}`]) {
    const me = await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie })
    t.equal(me.status, 401, 'not signed in as anyone')
  }
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie: `other=1; ${a.cookie}` })).status, 200, 'one session cookie among others still works')
})
