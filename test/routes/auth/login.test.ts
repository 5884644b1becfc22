import t from 'tap'
import { build, cookieOf, PASSWORD, registerUser, signedInUser, uniqueEmail, verifyUser } from '../../helper.js'

t.test('login', async t => {
  const ctx = await build(t)
  const { app } = ctx

  t.test('a verified user signs in and gets the session cookie with the contract attributes', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email, PASSWORD, { username: 'Ada_L' })
    await verifyUser(ctx, email)
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.equal(body.message, 'Login successful')
    t.equal(body.user.email, email)
    t.equal(body.user.username, 'Ada_L')
    t.equal(body.user.emailVerified, true)
    t.notOk('passwordHash' in body.user, 'no hash in the answer')
    t.notOk('disabled' in body.user)
    t.match(body.csrfToken, /^[A-Za-z0-9_-]{32,}$/)
    const expiresIn = Date.parse(body.session.expiresAt) - Date.now()
    t.ok(expiresIn > 604_700_000 && expiresIn <= 604_800_000, 'expiresAt is 7 days ahead')
    const setCookie = [res.headers['set-cookie']].flat() as string[]
    t.equal(setCookie.length, 1, 'exactly one Set-Cookie')
    const header = setCookie[0]
    t.match(header, /^sessionId=[A-Za-z0-9_-]{43}\.[A-Za-z0-9%_+/=-]+;/, 'a 256-bit id, signed')
    t.match(header, /; HttpOnly/)
    t.match(header, /; Path=\//)
    t.match(header, /; SameSite=Strict/)
    t.match(header, /; Max-Age=604800/)
    t.notMatch(header, /Secure/, 'no Secure outside production')
  })

  t.test('the username field and an email in the username field both work', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email, PASSWORD, { username: 'grace.h' })
    await verifyUser(ctx, email)
    for (const payload of [{ username: 'GRACE.H', password: PASSWORD }, { username: email, password: PASSWORD }, { email: `  ${email.toUpperCase()} `, password: PASSWORD }]) {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload })
      t.equal(res.statusCode, 200, JSON.stringify(Object.keys(payload)))
    }
  })

  t.test('a wrong password and an unknown email answer the same 401', async t => {
    const { email } = await signedInUser(ctx)
    const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'not the password' } })
    const unknown = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: uniqueEmail('nobody'), password: 'not the password' } })
    const unknownName = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody-here', password: 'not the password' } })
    for (const res of [wrong, unknown, unknownName]) {
      t.equal(res.statusCode, 401)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.equal(res.headers['set-cookie'], undefined, 'no cookie')
    }
    t.same(wrong.json(), unknown.json(), 'identical bodies')
    t.same(unknown.json(), unknownName.json())
    t.match(wrong.json(), { status: 401, code: 'INVALID_CREDENTIALS', type: /^urn:gatehouse:problem:/, title: String, detail: String })
  })

  t.test('EMAIL_NOT_VERIFIED and ACCOUNT_DISABLED come only once the password is right', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email)
    const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'wrong password!' } })
    t.equal(wrong.json().code, 'INVALID_CREDENTIALS')
    const right = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
    t.equal(right.statusCode, 403)
    t.equal(right.json().code, 'EMAIL_NOT_VERIFIED')
    t.equal(right.headers['set-cookie'], undefined)

    await verifyUser(ctx, email)
    const user = await app.users.findByEmail(email)
    await app.users.update(user!.id, { disabled: true })
    const disabledWrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'wrong password!' } })
    t.equal(disabledWrong.json().code, 'INVALID_CREDENTIALS')
    const disabledRight = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
    t.equal(disabledRight.statusCode, 403)
    t.equal(disabledRight.json().code, 'ACCOUNT_DISABLED')
  })

  t.test('login issues a new id even when the request carried a live session cookie, and the old id is gone', async t => {
    const first = await signedInUser(ctx)
    const oldKeys = await ctx.redis.keys('gh:sess:*')
    const again = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { cookie: first.cookie }, payload: { email: first.email, password: PASSWORD } })
    t.equal(again.statusCode, 200)
    const newCookie = cookieOf(again)!
    t.not(newCookie, first.cookie)
    const oldMe = await app.inject({ url: '/api/auth/me', headers: { cookie: first.cookie } })
    t.equal(oldMe.statusCode, 401, 'the old id no longer works')
    const newMe = await app.inject({ url: '/api/auth/me', headers: { cookie: newCookie } })
    t.equal(newMe.statusCode, 200)
    const keys = await ctx.redis.keys('gh:sess:*')
    t.equal(keys.length, oldKeys.length, 'one session replaced by one')
  })

  t.test('an attacker-chosen session id is never adopted', async t => {
    const u = await signedInUser(ctx)
    const planted = 'sessionId=attacker-chosen-value'
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { cookie: planted }, payload: { email: u.email, password: PASSWORD } })
    t.equal(res.statusCode, 200)
    t.notMatch(cookieOf(res)!, /attacker-chosen-value/)
  })

  t.test('the raw session id appears nowhere in Redis; its SHA-256 is the key', async t => {
    const u = await signedInUser(ctx)
    const raw = decodeURIComponent(u.cookie.split('=')[1]).split('.')[0]
    const keys = await ctx.redis.keys('*')
    const { createHash } = await import('node:crypto')
    t.ok(keys.includes(`gh:sess:${createHash('sha256').update(raw).digest('base64url')}`))
    for (const key of keys) {
      t.notOk(key.includes(raw), `key ${key}`)
      const type = await ctx.redis.type(key)
      const dump = type === 'string' ? await ctx.redis.get(key) : type === 'hash' ? JSON.stringify(await ctx.redis.hgetall(key)) : type === 'zset' ? JSON.stringify(await ctx.redis.zrange(key, 0, -1)) : type === 'set' ? JSON.stringify(await ctx.redis.smembers(key)) : ''
      t.notOk(dump?.includes(raw), `value of ${key}`)
    }
  })

  t.test('in production the cookie is Secure', async t => {
    const prod = await build(t, { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32) }, ctx.server)
    const u = await signedInUser(prod)
    t.match(u.setCookie[0], /; Secure/)
  })

  t.test('the per-IP login limit answers 429 with Retry-After', async t => {
    const limited = await build(t, { LOGIN_RATE_LIMIT: '3' }, ctx.server)
    const codes: number[] = []
    let last
    for (let i = 0; i < 4; i++) {
      last = await limited.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '203.0.113.9', payload: { email: 'x@example.com', password: 'whatever-pass' } })
      codes.push(last.statusCode)
    }
    t.same(codes, [401, 401, 401, 429])
    t.equal(last!.json().code, 'RATE_LIMITED')
    t.ok(Number(last!.headers['retry-after']) > 0 && Number(last!.headers['retry-after']) <= 60)
    const other = await limited.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '203.0.113.10', payload: { email: 'x@example.com', password: 'whatever-pass' } })
    t.equal(other.statusCode, 401, 'another IP is not limited')
  })
})

t.test('a hash made with weaker parameters is upgraded at the next login', async t => {
  const weak = await build(t, { ARGON2_MEMORY_KIB: '4096', ARGON2_ITERATIONS: '1' })
  const u = await signedInUser(weak)
  const before = (await weak.app.users.findByEmail(u.email))!.passwordHash
  t.match(before, /m=4096,p=1,t=1/)
  const strong = await build(t, {}, weak.server)
  const res = await strong.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: PASSWORD } })
  t.equal(res.statusCode, 200)
  t.match((await strong.app.users.findByEmail(u.email))!.passwordHash, /m=19456,p=1,t=2/)
})
