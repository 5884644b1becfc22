import t from 'tap'
import { request, signedInUser, startApiServer, startServer, PASSWORD, uniqueEmail } from '../helper.js'

// Bound on the whole shutdown; close-with-grace itself gives up (exit 1) after 10 s.
const EXIT_BOUND_MS = 30_000

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} during a login: the login completes with 200, Redis is closed, the process exits 0`, async t => {
    // A deliberately slow Argon2 (64 MiB, 20 passes) so the signal lands mid-hash.
    const server = await startApiServer(t, { env: { ARGON2_MEMORY_KIB: '65536', ARGON2_ITERATIONS: '20' } })
    const { outbox, redis } = server
    const email = uniqueEmail('shutdown')
    await signedInUser(server, email)

    const login = request(server.url, 'POST', '/api/auth/login', { body: { email, password: PASSWORD }, timeoutMs: EXIT_BOUND_MS })
    const seen = server.lines.length
    // The request has reached the handler once Fastify logs it; the hash takes about a second.
    const incoming = await server.waitForLog(e => e.msg === 'incoming request' && e.req?.url === '/api/auth/login', { from: seen })
    server.child.kill(signal)
    await server.waitForLog(e => e.msg === 'closing', { from: seen })
    const late = await request(server.url, 'GET', '/health/live', { timeoutMs: 5000 }).then(r => r.status, (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message)
    // Refused, reset (a pooled keep-alive socket the server closed) or 503: never served.
    t.ok(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 503].includes(late), `a new request after the signal is not served (${String(late)})`)

    const answer = await login
    t.equal(answer.status, 200, 'the login in flight completes')
    t.ok(answer.cookie !== undefined, 'with its session cookie')
    t.equal(answer.body.message, 'Login successful')

    const timer = setTimeout(() => server.child.kill('SIGKILL'), EXIT_BOUND_MS)
    const exit = await server.exited
    clearTimeout(timer)
    t.same(exit, { code: 0, signal: null }, 'the process exits 0 by itself')
    if (exit.code !== 0) t.comment(server.stderr())

    const entries = server.lines.map(l => { try { return JSON.parse(l) } catch { return {} } })
    const closing = entries.findIndex(e => e.msg === 'closing' && e.signal === signal)
    const loggedIn = entries.findIndex(e => e.msg === 'login' && e.reqId === incoming.reqId)
    t.ok(closing >= 0, 'the signal was handled')
    t.ok(closing < loggedIn, 'the signal arrived before the login finished (it was in flight)')
    t.ok(entries.some(e => e.msg === 'redis closed'), 'the Redis connection was closed')

    // The session written during shutdown is in Redis: it was not cut off half way.
    const again = await startServer(t, { REDIS_URL: redis.url, MAIL_OUTBOX_DIR: outbox })
    t.equal((await request(again.url, 'GET', '/api/auth/me', { cookie: answer.cookie })).status, 200, 'the new session is usable on the next server')
  })
}
