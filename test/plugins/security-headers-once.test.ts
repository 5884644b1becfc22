import t from 'tap'
import { build, signedInUser } from '../helper.js'
import { helmetHeaders, helmetOptions, jsonHeaders } from '../../plugins/security-headers.js'

const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }

t.test('pages carry helmet\'s headers; JSON answers the fixed API set, and nothing of the pages\'', async t => {
  const ctx = await build(t, FAST_ARGON2)
  const user = await signedInUser(ctx)
  const page = await ctx.app.inject({ url: '/' })
  t.equal(page.statusCode, 200)
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: user.cookie } })
  const missing = await ctx.app.inject({ url: '/api/auth/nowhere' })
  const health = await ctx.app.inject({ url: '/health/live' })
  const forPages = helmetHeaders(helmetOptions(false))
  t.ok(Object.keys(forPages).length >= 10, 'helmet writes its full set')
  for (const [name, value] of Object.entries(forPages)) t.equal(page.headers[name], value, `the page (helmet itself): ${name}`)
  const forJson = jsonHeaders(false)
  for (const answer of [me, missing, health]) {
    for (const [name, value] of Object.entries(forJson)) t.equal(answer.headers[name], value, `${answer.statusCode} JSON answer: ${name}`)
    for (const name of Object.keys(forPages)) if (!(name in forJson)) t.equal(answer.headers[name], undefined, `${answer.statusCode} JSON answer: no ${name}`)
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

t.test('production JSON answers carry HSTS too', async t => {
  t.equal(jsonHeaders(true)['strict-transport-security'], 'max-age=31536000; includeSubDomains')
  t.equal(jsonHeaders(false)['strict-transport-security'], undefined)
})
