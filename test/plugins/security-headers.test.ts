import t from 'tap'
import { build, signedInUser } from '../helper.js'

t.test('security headers suit a JSON API and a same-origin page', async t => {
  const ctx = await build(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' })
  const user = await signedInUser(ctx)
  const page = await ctx.app.inject({ url: '/' })
  const csp = String(page.headers['content-security-policy'])
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"]) {
    t.ok(csp.includes(directive), `the page: ${directive}`)
  }
  t.notMatch(csp, /unsafe-inline|unsafe-eval/)
  t.equal(page.headers['x-frame-options'], 'SAMEORIGIN')
  t.equal(page.headers['cross-origin-opener-policy'], 'same-origin')

  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: user.cookie } })
  const h = me.headers
  t.equal(h['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", 'a JSON answer loads nothing and is framed by nothing')
  t.equal(h['x-content-type-options'], 'nosniff')
  t.equal(h['x-frame-options'], 'DENY')
  t.equal(h['referrer-policy'], 'no-referrer')
  t.equal(h['cross-origin-resource-policy'], 'same-origin')
  t.equal(h['cache-control'], 'no-store', 'answers carrying a session or a token are never cached')
  t.equal(h['x-powered-by'], undefined)
  t.equal(h['strict-transport-security'], undefined, 'no HSTS outside production (plain http)')

  const problem = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'a@b.cd', password: 'x' } })
  t.equal(problem.headers['x-content-type-options'], 'nosniff', 'errors carry them too')
  t.equal(problem.headers['cache-control'], 'no-store')
})

t.test('production adds HSTS', async t => {
  const ctx = await build(t, { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32), METRICS_TOKEN: 'm'.repeat(32), ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' })
  const r = await ctx.app.inject({ url: '/health/live' })
  t.match(r.headers['strict-transport-security'], /max-age=31536000; includeSubDomains/)
})
