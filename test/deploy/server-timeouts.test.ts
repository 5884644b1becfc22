import t from 'tap'
import { connect } from 'node:net'
import { ConfigError, loadConfig } from '../../src/config.js'
import { build, startApiServer } from '../helper.js'

/** Writes `chunks` to a raw connection, then waits for the server to answer and close; resolves what came back and when. */
async function rawExchange (port: number, data: string, waitMs: number): Promise<{ answer: string, closedAfterMs: number | undefined }> {
  return await new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1', () => socket.write(data))
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(); resolve({ answer, closedAfterMs: undefined }) }, waitMs)
    socket.on('data', (c: Buffer) => { answer += c.toString() })
    socket.on('error', reject)
    socket.on('close', () => { clearTimeout(timer); resolve({ answer, closedAfterMs: Date.now() - started }) })
  })
}

t.test('a client that trickles its headers or its body is answered 408 and let go', async t => {
  const api = await startApiServer(t, { built: true, env: { HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000' } })
  const headers = await rawExchange(api.port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', 6000)
  t.match(headers.answer, /^HTTP\/1\.1 408/, 'headers not finished in time: 408')
  t.ok(headers.closedAfterMs !== undefined && headers.closedAfterMs < 4000, `and the connection closed (after ${String(headers.closedAfterMs)} ms)`)

  const body = await rawExchange(api.port, 'POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"email":', 6000)
  t.match(body.answer, /^HTTP\/1\.1 408/, 'a body that never finishes: 408')
  t.ok(body.closedAfterMs !== undefined && body.closedAfterMs < 4000, `and the connection closed (after ${String(body.closedAfterMs)} ms)`)

  const live = await fetch(`${api.url}/health/live`)
  t.equal(live.status, 200, 'others are served meanwhile')
})

t.test('kept-alive connections are announced with the keep-alive timeout', async t => {
  const api = await startApiServer(t, { built: true })
  const res = await fetch(`${api.url}/health/live`)
  t.equal(res.headers.get('keep-alive'), 'timeout=72', 'Fastify\'s 72 s, above the proxies\' 60 s')
})

t.test('a headers timeout above the request timeout is refused at start-up', async t => {
  const refusal = (env: Record<string, string>): unknown => {
    try {
      loadConfig(env)
    } catch (err) {
      return err
    }
  }
  const tooLong = refusal({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })
  t.ok(tooLong instanceof ConfigError, 'refused')
  t.match((tooLong as Error).message, /HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS/)
  t.ok(refusal({ HTTP_REQUEST_TIMEOUT_MS: '0' }) instanceof ConfigError, 'no timeout at all is not an option')
})

t.test('unknown paths answer 404 at most 30 times in 10 s per client, then 429', async t => {
  const ctx = await build(t)
  const statuses: number[] = []
  for (let i = 0; i < 31; i++) statuses.push((await ctx.app.inject({ url: `/guess-${i}` })).statusCode)
  t.same(statuses.slice(0, 30), Array(30).fill(404), '30 × 404')
  const limited = await ctx.app.inject({ url: '/guess-31' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'with Retry-After')
  t.equal((await ctx.app.inject({ url: '/health/live' })).statusCode, 200, 'real routes are not limited by it')
})
