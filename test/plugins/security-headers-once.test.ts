import t from 'tap'
import { build, signedInUser } from '../helper.js'
import { helmetHeaders, helmetOptions } from '../../plugins/security-headers.js'

const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }

t.test('JSON answers carry exactly the headers helmet writes on a page, computed once', async t => {
  const ctx = await build(t, FAST_ARGON2)
  const user = await signedInUser(ctx)
  const page = await ctx.app.inject({ url: '/' })
  t.equal(page.statusCode, 200)
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: user.cookie } })
  const missing = await ctx.app.inject({ url: '/api/auth/nowhere' })
  const health = await ctx.app.inject({ url: '/health/live' })
  const expected = helmetHeaders(helmetOptions(false))
  t.ok(Object.keys(expected).length >= 10, 'helmet writes its full set')
  for (const [name, value] of Object.entries(expected)) {
    t.equal(page.headers[name], value, `the page (helmet itself): ${name}`)
    t.equal(me.headers[name], value, `GET /me: ${name}`)
    t.equal(missing.headers[name], value, `a 404: ${name}`)
    t.equal(health.headers[name], value, `GET /health/live: ${name}`)
  }
  t.equal(missing.headers['cache-control'], 'no-store', 'an API 404 is not cached either')
  t.equal(health.headers['cache-control'], undefined, 'only /api/ answers are marked no-store')
})

t.test('the docs page keeps its relaxed style policy', async t => {
  const ctx = await build(t, FAST_ARGON2)
  const docs = await ctx.app.inject({ url: '/docs' })
  t.equal(docs.statusCode, 200)
  t.match(String(docs.headers['content-security-policy']), /style-src 'self' 'unsafe-inline'/)
  t.match(String(docs.headers['content-security-policy']), /script-src 'self'(;|$)/)
})

t.test('helmetHeaders adds HSTS only when asked', async t => {
  t.equal(helmetHeaders(helmetOptions(false))['strict-transport-security'], undefined)
  t.equal(helmetHeaders(helmetOptions(true))['strict-transport-security'], 'max-age=31536000; includeSubDomains')
})
