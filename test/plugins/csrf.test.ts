import t from 'tap'
import { build, signedInUser, PASSWORD, request, listen } from '../helper.js'

const ARGON = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }
const SPA = 'https://spa.example.com'
const EVIL = 'https://evil.example'

t.test('SameSite=Strict (default)', async t => {
  const ctx = await build(t, { ...ARGON, CORS_ORIGINS: SPA })
  const base = await listen(ctx.app)
  const user = await signedInUser(ctx)

  t.test('a login POST from a foreign Origin carrying a valid session cookie is refused', async t => {
    const r = await request(base, 'POST', '/api/auth/login', { body: { email: user.email, password: PASSWORD }, headers: { origin: EVIL, cookie: user.cookie } })
    t.equal(r.status, 403)
    t.equal(r.body.code, 'CSRF_REJECTED')
    t.ok(r.cookie === undefined || r.cookie === user.cookie, 'no new session')
    t.equal(r.headers.get('access-control-allow-origin'), null)
  })

  t.test('a logout from a foreign site is refused and the session lives on', async t => {
    const bySite = await request(base, 'POST', '/api/auth/logout', { headers: { 'sec-fetch-site': 'cross-site', cookie: user.cookie } })
    t.equal(bySite.status, 403)
    t.equal(bySite.body.code, 'CSRF_REJECTED')
    const byOrigin = await request(base, 'POST', '/api/auth/logout', { headers: { origin: 'null', cookie: user.cookie } })
    t.equal(byOrigin.status, 403)
    const me = await request(base, 'GET', '/api/auth/me', { headers: { cookie: user.cookie } })
    t.equal(me.status, 200, 'still signed in')
  })

  t.test('the same origin, a configured SPA origin and curl (no header) are let through', async t => {
    const own = await signedInUser(ctx)
    const r1 = await request(base, 'POST', '/api/auth/logout', { headers: { origin: 'http://localhost:3000', cookie: own.cookie } })
    t.equal(r1.status, 204)
    const spa = await signedInUser(ctx)
    const r2 = await request(base, 'POST', '/api/auth/logout', { headers: { origin: SPA, cookie: spa.cookie } })
    t.equal(r2.status, 204)
    t.equal(r2.headers.get('access-control-allow-origin'), SPA)
    t.equal(r2.headers.get('access-control-allow-credentials'), 'true')
    const curl = await signedInUser(ctx)
    const r3 = await request(base, 'POST', '/api/auth/logout', { headers: { cookie: curl.cookie } })
    t.equal(r3.status, 204, 'curl -b cookies.txt -X POST .../logout works')
    const r4 = await request(base, 'POST', '/api/auth/logout', { headers: { 'sec-fetch-site': 'same-origin', cookie: (await signedInUser(ctx)).cookie } })
    t.equal(r4.status, 204)
  })

  t.test('a request without the session cookie is not subject to the check (first login, bearer clients)', async t => {
    const r = await request(base, 'POST', '/api/auth/login', { body: { email: user.email, password: 'wrong password' }, headers: { origin: EVIL } })
    t.equal(r.status, 401, 'reaches the route: answered by the password check, not by CSRF')
    const bearer = await request(base, 'POST', '/api/auth/logout', { headers: { origin: EVIL, authorization: 'Bearer abc' } })
    t.not(bearer.status, 403)
  })

  t.test('a CORS preflight from a foreign origin gets no allow headers', async t => {
    const r = await request(base, 'OPTIONS', '/api/auth/login', { headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
    t.not(r.status, 204)
    for (const h of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers']) {
      t.equal(r.headers.get(h), null, `no ${h}`)
    }
  })

  t.test('a CORS preflight from the configured SPA origin is allowed with credentials', async t => {
    const r = await request(base, 'OPTIONS', '/api/auth/login', { headers: { origin: SPA, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf-token' } })
    t.equal(r.status, 204)
    t.equal(r.headers.get('access-control-allow-origin'), SPA)
    t.equal(r.headers.get('access-control-allow-credentials'), 'true')
    t.match(r.headers.get('access-control-allow-headers'), /X-CSRF-Token/)
    t.match(r.headers.get('access-control-allow-headers'), /Authorization/)
    t.match(r.headers.get('vary'), /Origin/)
  })

  t.test('a simple GET from a foreign origin gets no CORS headers, so its page cannot read the answer', async t => {
    const r = await request(base, 'GET', '/api/auth/me', { headers: { origin: EVIL, cookie: user.cookie } })
    t.equal(r.headers.get('access-control-allow-origin'), null)
  })
})

t.test('SameSite=None requires the session\'s csrfToken in X-CSRF-Token', async t => {
  const ctx = await build(t, { ...ARGON, CORS_ORIGINS: SPA, COOKIE_SAMESITE: 'None' })
  const base = await listen(ctx.app)
  const user = await signedInUser(ctx)
  const csrfToken: string = user.csrfToken
  t.match(user.setCookie.join('\n'), /SameSite=None/)
  t.match(user.setCookie.join('\n'), /Secure/)

  const none = await request(base, 'POST', '/api/auth/logout', { headers: { origin: SPA, cookie: user.cookie } })
  t.equal(none.status, 403, 'without the token')
  t.equal(none.body.code, 'CSRF_REJECTED')
  const curl = await request(base, 'POST', '/api/auth/logout', { headers: { cookie: user.cookie } })
  t.equal(curl.status, 403, 'the token is required even without Origin: the cookie goes everywhere')
  const wrong = await request(base, 'POST', '/api/auth/logout', { headers: { origin: SPA, cookie: user.cookie, 'x-csrf-token': csrfToken.slice(0, -2) + 'xx' } })
  t.equal(wrong.status, 403, 'with a wrong token')
  const other = await signedInUser(ctx)
  const foreign = await request(base, 'POST', '/api/auth/logout', { headers: { origin: SPA, cookie: user.cookie, 'x-csrf-token': other.csrfToken } })
  t.equal(foreign.status, 403, 'with another session\'s token')
  const evil = await request(base, 'POST', '/api/auth/logout', { headers: { origin: EVIL, cookie: user.cookie, 'x-csrf-token': csrfToken } })
  t.equal(evil.status, 403, 'a foreign origin is refused even with the token')
  const me = await request(base, 'GET', '/api/auth/me', { headers: { cookie: user.cookie } })
  t.equal(me.status, 200, 'all of those left the session alone')
  t.equal(me.body.csrfToken, csrfToken, '/me gives the same token')

  const ok = await request(base, 'POST', '/api/auth/logout', { headers: { origin: SPA, cookie: user.cookie, 'x-csrf-token': csrfToken } })
  t.equal(ok.status, 204, 'with the token')
  const after = await request(base, 'GET', '/api/auth/me', { headers: { cookie: user.cookie } })
  t.equal(after.status, 401)

  const stale = await request(base, 'POST', '/api/auth/login', { body: { email: user.email, password: PASSWORD }, headers: { origin: SPA, cookie: user.cookie } })
  t.equal(stale.status, 200, 'a dead session\'s cookie does not block the next login')
})
