import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { build, cookieOf, PASSWORD, registerUser, signedInUser, uniqueEmail, verifyUser, type TestContext } from '../../helper.js'
import { Authenticator, base32Decode } from '../../totp-codes.js'

const KEY = `t1:${randomBytes(32).toString('base64')}`

const sentCookie = new WeakMap<LightMyRequestResponse, string>()

async function post (ctx: TestContext, url: string, payload: unknown, cookie?: string): Promise<LightMyRequestResponse> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/api/auth${url}`,
    payload: payload as Record<string, unknown>,
    headers: cookie === undefined ? {} : { cookie }
  })
  if (cookie !== undefined) sentCookie.set(res, cookie)
  return res
}

async function me (ctx: TestContext, cookie: string): Promise<LightMyRequestResponse> {
  return await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })
}

interface Enrolled {
  email: string
  userId: string
  cookie: string
  secret: string
  auth: Authenticator
  backupCodes: string[]
  setup: Record<string, string>
}

/** Registers, signs in, and turns TOTP on through the API, as a person with an app would. */
async function enrolledUser (ctx: TestContext): Promise<Enrolled> {
  const u = await signedInUser(ctx)
  const setup = await post(ctx, '/2fa/setup', { password: PASSWORD }, u.cookie)
  if (setup.statusCode !== 200) throw new Error(`setup answered ${setup.statusCode}: ${setup.body}`)
  const body = setup.json()
  const auth = new Authenticator(body.secret)
  const enable = await post(ctx, '/2fa/enable', { code: await auth.next() }, u.cookie)
  if (enable.statusCode !== 200) throw new Error(`enable answered ${enable.statusCode}: ${enable.body}`)
  return { email: u.email, userId: u.login.json().user.id, cookie: u.cookie, secret: body.secret, auth, backupCodes: enable.json().backupCodes, setup: body }
}

async function login (ctx: TestContext, email: string, extra: Record<string, unknown> = {}): Promise<LightMyRequestResponse> {
  return await post(ctx, '/login', { email, password: PASSWORD, ...extra })
}

function assertLoginSuccess (t: Tap.Test, res: LightMyRequestResponse, email: string): void {
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['csrfToken', 'message', 'session', 'user'])
  t.equal(body.message, 'Login successful')
  t.equal(body.user.email, email)
  t.equal(body.user.mfaEnabled, true)
  t.ok(cookieOf(res), 'a session cookie')
}

function assertProblem (t: Tap.Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, res.body)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, code)
  // A signed-in request gets its own cookie back (sliding expiry); nothing else may appear.
  const sent = sentCookie.get(res)
  const got = cookieOf(res)
  t.ok(got === undefined || got === sent, 'no new session cookie')
}

/** Every key and value in Redis as text, to search for things that must not be there. */
async function dumpRedis (ctx: TestContext): Promise<string> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      out.push(key)
      const type = await ctx.redis.type(key)
      if (type === 'string') out.push(await ctx.redis.get(key) ?? '')
      else if (type === 'hash') out.push(...Object.entries(await ctx.redis.hgetall(key)).flat())
      else if (type === 'set') out.push(...await ctx.redis.smembers(key))
      else if (type === 'zset') out.push(...await ctx.redis.zrange(key, 0, -1, 'WITHSCORES'))
      else if (type === 'list') out.push(...await ctx.redis.lrange(key, 0, -1))
    }
  } while (cursor !== '0')
  return out.join('\n')
}

/** The 2FA state of a user as Redis holds it, to show a refused request changed nothing. */
async function mfaState (ctx: TestContext, userId: string): Promise<unknown> {
  const r = ctx.redis
  return {
    mfaEnabled: await r.hget(`gh:user:{${userId}}`, 'mfaEnabled'),
    updatedAt: await r.hget(`gh:user:{${userId}}`, 'updatedAt'),
    totp: await r.hgetall(`gh:user:{${userId}}:totp`),
    pending: await r.hgetall(`gh:user:{${userId}}:totp:pending`),
    backup: (await r.smembers(`gh:user:{${userId}}:backup-codes`)).sort(),
    sessions: (await r.zrange(`gh:user:{${userId}}:sessions`, 0, -1)).sort()
  }
}

t.test('enrolment: setup gives a scannable URI and QR code, enable turns 2FA on and shows ten backup codes once', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const u = await signedInUser(ctx)
  const userId = u.login.json().user.id
  const other = await login(ctx, u.email)
  const otherCookie = cookieOf(other) as string

  assertProblem(t, await post(ctx, '/2fa/setup', { password: 'wrong password' }, u.cookie), 401, 'INVALID_CREDENTIALS')
  t.equal(await ctx.redis.exists(`gh:user:{${userId}}:totp:pending`), 0, 'a wrong password starts nothing')
  assertProblem(t, await post(ctx, '/2fa/setup', { password: PASSWORD }), 401, 'UNAUTHENTICATED')

  const setup = await post(ctx, '/2fa/setup', { password: PASSWORD }, u.cookie)
  t.equal(setup.statusCode, 200)
  const { secret, otpauthUrl, qrSvg } = setup.json()
  t.same(Object.keys(setup.json()).sort(), ['otpauthUrl', 'qrSvg', 'secret'])
  t.match(secret, /^[A-Z2-7]{32}$/)
  t.equal(base32Decode(secret).length, 20)
  const uri = new URL(otpauthUrl)
  t.equal(`${uri.protocol}//${uri.host}`, 'otpauth://totp')
  t.equal(decodeURIComponent(uri.pathname), `/Gatehouse:${u.email}`)
  t.same(Object.fromEntries(uri.searchParams), { secret, issuer: 'Gatehouse', algorithm: 'SHA1', digits: '6', period: '30' })
  t.match(qrSvg, /^<svg/)
  t.match(qrSvg, /<\/svg>\s*$/)

  t.equal((await me(ctx, u.cookie)).json().user.mfaEnabled, false, 'nothing is on until enable')
  const plain = await login(ctx, u.email)
  t.equal(plain.json().message, 'Login successful', 'still no challenge before enable')

  const auth = new Authenticator(secret)
  assertProblem(t, await post(ctx, '/2fa/enable', { code: auth.codeAgo(3) }, u.cookie), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx, '/2fa/enable', { code: await auth.next() }, otherCookie), 409, 'MFA_SETUP_REQUIRED')
  const enable = await post(ctx, '/2fa/enable', { code: auth.lastCode() }, u.cookie)
  t.equal(enable.statusCode, 200, enable.body)
  const codes: string[] = enable.json().backupCodes
  t.equal(codes.length, 10)
  t.equal(new Set(codes).size, 10)
  for (const c of codes) t.match(c, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/)

  t.equal((await me(ctx, u.cookie)).json().user.mfaEnabled, true)
  t.equal((await me(ctx, otherCookie)).statusCode, 401, 'other sessions ended')
  t.equal((await me(ctx, cookieOf(plain) as string)).statusCode, 401)
  t.equal(await ctx.redis.exists(`gh:user:{${userId}}:totp:pending`), 0)
  assertProblem(t, await post(ctx, '/2fa/setup', { password: PASSWORD }, u.cookie), 409, 'MFA_ALREADY_ENABLED')
  assertProblem(t, await post(ctx, '/2fa/enable', { code: await auth.next() }, u.cookie), 409, 'MFA_ALREADY_ENABLED')
})

t.test('log out, then log in through the challenge and with an inline code', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  const logout = await post(ctx, '/logout', undefined, e.cookie)
  t.equal(logout.statusCode, 204)
  t.equal((await me(ctx, e.cookie)).statusCode, 401)

  const first = await login(ctx, e.email)
  t.equal(first.statusCode, 200)
  t.notOk(first.headers['set-cookie'], 'no cookie with a challenge')
  const challenge = first.json()
  t.same(Object.keys(challenge).sort(), ['expiresIn', 'mfaMethods', 'mfaRequired', 'mfaToken'])
  t.equal(challenge.mfaRequired, true)
  t.same(challenge.mfaMethods, ['totp', 'backup_code'])
  t.equal(challenge.expiresIn, 300)
  t.match(challenge.mfaToken, /^[A-Za-z0-9_-]{43}$/, '256 bits')
  t.notOk((await dumpRedis(ctx)).includes(challenge.mfaToken), 'only its digest is stored')

  const verified = await post(ctx, '/mfa/verify', { mfaToken: challenge.mfaToken, code: await e.auth.next() })
  assertLoginSuccess(t, verified, e.email)
  const viaChallenge = cookieOf(verified) as string
  t.equal((await me(ctx, viaChallenge)).statusCode, 200)
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: challenge.mfaToken, code: e.auth.codeAgo(0) }), 400, 'INVALID_TOKEN')

  const inline = await login(ctx, e.email, { totpCode: await e.auth.next() })
  assertLoginSuccess(t, inline, e.email)
  t.equal((await me(ctx, cookieOf(inline) as string)).statusCode, 200)

  assertProblem(t, await login(ctx, e.email, { totpCode: e.auth.lastCode() }), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await login(ctx, e.email, { password: 'not the password', totpCode: e.auth.codeAgo(0) }), 401, 'INVALID_CREDENTIALS')
})

t.test('a code is accepted once, also by another server process; a code from three steps ago is refused', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const ctx2 = await build(t, { DATA_ENCRYPTION_KEY: KEY }, ctx.server)
  const e = await enrolledUser(ctx)

  const code = await e.auth.next()
  assertLoginSuccess(t, await login(ctx, e.email, { totpCode: code }), e.email)
  assertProblem(t, await login(ctx, e.email, { totpCode: code }), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await login(ctx2, e.email, { totpCode: code }), 401, 'INVALID_MFA_CODE')
  const ch = (await login(ctx2, e.email)).json()
  assertProblem(t, await post(ctx2, '/mfa/verify', { mfaToken: ch.mfaToken, code }), 401, 'INVALID_MFA_CODE')

  const old = e.auth.codeAgo(3)
  assertProblem(t, await login(ctx2, e.email, { totpCode: old }), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx2, '/mfa/verify', { mfaToken: ch.mfaToken, code: old }), 401, 'INVALID_MFA_CODE')
  const fresh = await e.auth.next()
  assertLoginSuccess(t, await post(ctx2, '/mfa/verify', { mfaToken: ch.mfaToken, code: fresh }), e.email)

  // the same code sent to both processes at once: exactly one login
  const r = await enrolledUser(ctx2)
  const c1 = (await login(ctx, r.email)).json().mfaToken
  const c2 = (await login(ctx2, r.email)).json().mfaToken
  const racing = await r.auth.next()
  const both = await Promise.all([
    post(ctx, '/mfa/verify', { mfaToken: c1, code: racing }),
    post(ctx2, '/mfa/verify', { mfaToken: c2, code: racing })
  ])
  t.same(both.map(r => r.statusCode).sort(), [200, 401])
})

t.test('a backup code works once, through the challenge, and regenerating replaces the set', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  const other = await post(ctx, '/mfa/verify', { mfaToken: (await login(ctx, e.email)).json().mfaToken, code: await e.auth.next() })
  const otherCookie = cookieOf(other) as string

  const ch1 = (await login(ctx, e.email)).json().mfaToken
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: ch1, code: e.backupCodes[0], method: 'backup_code' }), e.email)
  t.equal(await ctx.redis.scard(`gh:user:{${e.userId}}:backup-codes`), 9)
  const ch2 = (await login(ctx, e.email)).json().mfaToken
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: ch2, code: e.backupCodes[0] }), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: ch2, code: e.backupCodes[1], method: 'totp' }), 401, 'INVALID_MFA_CODE')
  // lower case and without dashes, the method guessed from its shape
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: ch2, code: e.backupCodes[1].toLowerCase().replace(/-/g, '') }), e.email)

  const before = await mfaState(ctx, e.userId)
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: 'wrong password' }, e.cookie), 401, 'INVALID_CREDENTIALS')
  t.same(await mfaState(ctx, e.userId), before, 'a wrong password changes nothing')
  const regen = await post(ctx, '/2fa/backup-codes', { password: PASSWORD }, e.cookie)
  t.equal(regen.statusCode, 200)
  const fresh: string[] = regen.json().backupCodes
  t.equal(fresh.length, 10)
  t.equal(fresh.filter(c => e.backupCodes.includes(c)).length, 0)
  t.equal((await me(ctx, otherCookie)).statusCode, 401, 'other sessions ended')
  t.equal((await me(ctx, e.cookie)).statusCode, 200, 'this session kept')

  const ch3 = (await login(ctx, e.email)).json().mfaToken
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: ch3, code: e.backupCodes[2] }), 401, 'INVALID_MFA_CODE')
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: ch3, code: fresh[0] }), e.email)
})

t.test('a challenge dies after five wrong codes', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)

  const token = (await login(ctx, e.email)).json().mfaToken
  const wrong = e.auth.codeAgo(5)
  for (let i = 0; i < 5; i++) {
    assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: token, code: i % 2 === 0 ? wrong : 'ABCD-EFGH-JKMN-PQRS' }), 401, 'INVALID_MFA_CODE')
  }
  t.equal((await ctx.redis.keys('gh:mfa:*')).length, 0, 'the challenge is deleted')
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: token, code: e.auth.codeAgo(0) }), 400, 'INVALID_TOKEN')

  // many wrong guesses at once still get at most five checks
  const token2 = (await login(ctx, e.email)).json().mfaToken
  const burst = await Promise.all(Array.from({ length: 12 }, async () => await post(ctx, '/mfa/verify', { mfaToken: token2, code: wrong })))
  t.equal(burst.filter(r => r.statusCode === 401).length, 5)
  t.equal(burst.filter(r => r.statusCode === 400).length, 7)

  // a right code on the fifth attempt still works
  const token3 = (await login(ctx, e.email)).json().mfaToken
  for (let i = 0; i < 4; i++) await post(ctx, '/mfa/verify', { mfaToken: token3, code: wrong })
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: token3, code: await e.auth.next() }), e.email)
})

t.test('a challenge dies after its lifetime', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY, MFA_CHALLENGE_TTL: '1' })
  const e = await enrolledUser(ctx)
  const res = (await login(ctx, e.email)).json()
  t.equal(res.expiresIn, 1)
  const keys = await ctx.redis.keys('gh:mfa:*')
  t.equal(keys.length, 1)
  const pttl = await ctx.redis.pttl(keys[0])
  t.ok(pttl > 0 && pttl <= 1000, 'stored with the configured lifetime')
  // Wait for Redis to expire it (no fixed sleep: poll until the key is gone).
  while (await ctx.redis.exists(keys[0]) === 1) await new Promise(resolve => setTimeout(resolve, 100))
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: res.mfaToken, code: await e.auth.next() }), 400, 'INVALID_TOKEN')
  // that code was not spent: the challenge was dead before any check
  assertLoginSuccess(t, await login(ctx, e.email, { totpCode: e.auth.lastCode() }), e.email)
})

t.test('a user without 2FA never sees a challenge', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const email = uniqueEmail()
  await registerUser(ctx, email)
  await verifyUser(ctx, email)
  const plain = await login(ctx, email)
  t.equal(plain.json().message, 'Login successful')
  t.ok(cookieOf(plain))
  const withCode = await login(ctx, email, { totpCode: '123456' })
  t.equal(withCode.json().message, 'Login successful', 'an inline code is ignored without 2FA')
  t.equal((await ctx.redis.keys('gh:mfa:*')).length, 0, 'no challenge stored')
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: randomBytes(32).toString('base64url'), code: '123456' }), 400, 'INVALID_TOKEN')
  const cookie = cookieOf(plain) as string
  assertProblem(t, await post(ctx, '/2fa/disable', { password: PASSWORD, code: '123456' }, cookie), 409, 'MFA_NOT_ENABLED')
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD }, cookie), 409, 'MFA_NOT_ENABLED')
  assertProblem(t, await post(ctx, '/2fa/enable', { code: '123456' }, cookie), 409, 'MFA_SETUP_REQUIRED')
})

t.test('disabling needs the password and a valid code, ends other sessions, and removes every trace', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  const other = await login(ctx, e.email, { totpCode: await e.auth.next() })
  const otherCookie = cookieOf(other) as string
  const before = await mfaState(ctx, e.userId)

  assertProblem(t, await post(ctx, '/2fa/disable', { password: 'wrong password', code: e.auth.codeAgo(0) }, e.cookie), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await post(ctx, '/2fa/disable', { password: PASSWORD, code: e.auth.codeAgo(4) }, e.cookie), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx, '/2fa/disable', { password: PASSWORD, code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' }, e.cookie), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx, '/2fa/disable', { password: PASSWORD, code: e.auth.codeAgo(0) }), 401, 'UNAUTHENTICATED')
  const after = await mfaState(ctx, e.userId) as Record<string, unknown>
  t.same(after, before, 'refusals changed nothing')

  const off = await post(ctx, '/2fa/disable', { password: PASSWORD, code: await e.auth.next() }, e.cookie)
  t.equal(off.statusCode, 200, off.body)
  t.same(Object.keys(off.json()), ['message'])
  t.equal((await me(ctx, e.cookie)).json().user.mfaEnabled, false)
  t.equal((await me(ctx, otherCookie)).statusCode, 401, 'other sessions ended')
  t.same(await ctx.redis.keys(`gh:user:{${e.userId}}:totp*`), [])
  t.equal(await ctx.redis.exists(`gh:user:{${e.userId}}:backup-codes`), 0)
  const plain = await login(ctx, e.email)
  t.equal(plain.json().message, 'Login successful', 'no challenge any more')

  // a backup code is a valid code for disabling too
  const again = await signedInUser(ctx)
  const s = (await post(ctx, '/2fa/setup', { password: PASSWORD }, again.cookie)).json()
  const a2 = new Authenticator(s.secret)
  const codes = (await post(ctx, '/2fa/enable', { code: await a2.next() }, again.cookie)).json().backupCodes
  t.equal((await post(ctx, '/2fa/disable', { password: PASSWORD, code: codes[5] }, again.cookie)).statusCode, 200)
})

t.test('neither the TOTP secret nor a backup code is in Redis in clear', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  // a pending setup of a second user too
  const p = await signedInUser(ctx)
  const pending = (await post(ctx, '/2fa/setup', { password: PASSWORD }, p.cookie)).json().secret as string
  await login(ctx, e.email)
  await login(ctx, e.email, { totpCode: await e.auth.next() })

  const dump = await dumpRedis(ctx)
  t.ok(dump.includes(e.userId), 'the dump does see the user')
  for (const secret of [e.secret, pending]) {
    const raw = base32Decode(secret)
    for (const form of [secret, secret.toLowerCase(), raw.toString('hex'), raw.toString('base64'), raw.toString('base64url'), raw.toString('latin1')]) {
      t.notOk(dump.includes(form), 'secret absent in every encoding')
    }
  }
  for (const c of e.backupCodes) {
    t.notOk(dump.includes(c) || dump.includes(c.replace(/-/g, '')), 'backup code absent')
  }
  const sealed = await ctx.redis.hget(`gh:user:{${e.userId}}:totp`, 'secret')
  t.match(sealed, /^v1\.t1\./, 'sealed under the configured key id')
})

t.test('bad input on every new route is refused with a 4xx and changes nothing', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  const token = (await login(ctx, e.email)).json().mfaToken as string
  const fresh = await signedInUser(ctx)
  const freshId = fresh.login.json().user.id as string
  const huge = 'x'.repeat(20 * 1024)
  const odd = ['\u0661\u0662\u0663\u0664\u0665\u0666', '\uff11\uff12\uff13\uff14\uff15\uff16', '123\u200b456', '\u202e654321', '12345\u0301', '\ud800\udc00\ud800', '😀😀😀😀😀😀']
  const cases: Array<[string, unknown]> = [
    ['/2fa/setup', {}], ['/2fa/setup', { password: 12345678 }], ['/2fa/setup', { password: PASSWORD, extra: 1 }],
    ['/2fa/setup', { password: '' }], ['/2fa/setup', { password: huge }], ['/2fa/setup', [PASSWORD]], ['/2fa/setup', null],
    ['/2fa/setup', { password: 'p'.repeat(129) }],
    ['/2fa/enable', {}], ['/2fa/enable', { code: 123456 }], ['/2fa/enable', { code: '12345' }], ['/2fa/enable', { code: '1234567' }],
    ['/2fa/enable', { code: '123456', password: PASSWORD }], ['/2fa/enable', { code: huge }],
    ['/2fa/disable', {}], ['/2fa/disable', { password: PASSWORD }], ['/2fa/disable', { code: '123456' }],
    ['/2fa/disable', { password: PASSWORD, code: 123456 }], ['/2fa/disable', { password: PASSWORD, code: '123456', x: true }],
    ['/2fa/disable', { password: PASSWORD, code: 'a'.repeat(25) }], ['/2fa/disable', { password: PASSWORD, code: '12345' }],
    ['/2fa/disable', { password: PASSWORD, code: '<script>' }],
    ['/2fa/backup-codes', {}], ['/2fa/backup-codes', { password: true }], ['/2fa/backup-codes', { password: PASSWORD, regenerate: true }],
    ['/mfa/verify', {}], ['/mfa/verify', { mfaToken: token }], ['/mfa/verify', { code: '123456' }],
    ['/mfa/verify', { mfaToken: token, code: '123456', method: 'sms' }], ['/mfa/verify', { mfaToken: token, code: '123456', userId: e.userId }],
    ['/mfa/verify', { mfaToken: token.slice(1), code: '123456' }], ['/mfa/verify', { mfaToken: token + '=', code: '123456' }],
    ['/mfa/verify', { mfaToken: 42, code: '123456' }], ['/mfa/verify', { mfaToken: token, code: ['123456'] }],
    ['/mfa/verify', { mfaToken: token, code: { $gt: '' } }], ['/mfa/verify', { mfaToken: token, code: huge }],
    ['/login', { email: e.email, password: PASSWORD, totpCode: 123456 }], ['/login', { email: e.email, password: PASSWORD, totpCode: '12345' }]
  ]
  for (const code of odd) {
    cases.push(['/2fa/enable', { code }], ['/2fa/disable', { password: PASSWORD, code }], ['/mfa/verify', { mfaToken: token, code }],
      ['/login', { email: e.email, password: PASSWORD, totpCode: code }], ['/mfa/verify', { mfaToken: `${token.slice(0, 42)}\u00e9`, code: '123456' }])
  }

  const beforeE = await mfaState(ctx, e.userId)
  const beforeF = await mfaState(ctx, freshId)
  const challengeKey = (await ctx.redis.keys('gh:mfa:*'))[0]
  const challengeBefore = await ctx.redis.hgetall(challengeKey)
  for (const [url, payload] of cases) {
    const cookie = url.startsWith('/2fa/') ? (url === '/2fa/enable' ? fresh.cookie : e.cookie) : undefined
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/api/auth${url}`,
      headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
      payload: JSON.stringify(payload)
    })
    const label = `${url} ${JSON.stringify(payload).slice(0, 80)}`
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${label} -> ${res.statusCode}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.notOk(/\n\s+at |node_modules|\.ts:/.test(res.body), 'no stack')
    if (JSON.stringify(payload).length > 16 * 1024) t.equal(res.statusCode, 413, label)
  }
  // one odd start on the fresh user that is valid: setup leaves a pending secret, nothing else
  t.same(await mfaState(ctx, e.userId), beforeE, 'enrolled user unchanged')
  t.same(await mfaState(ctx, freshId), beforeF, 'fresh user unchanged')
  t.same(await ctx.redis.hgetall(challengeKey), challengeBefore, 'no attempt spent on malformed input')
  // not JSON, and the wrong media type
  const notJson = await ctx.app.inject({ method: 'POST', url: '/api/auth/mfa/verify', headers: { 'content-type': 'application/json' }, payload: '{"mfaToken":' })
  t.equal(notJson.statusCode, 400)
  const form = await ctx.app.inject({ method: 'POST', url: '/api/auth/2fa/setup', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: e.cookie }, payload: 'password=x' })
  t.equal(form.statusCode, 415)
  // the challenge still works after all that
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: token, code: await e.auth.next() }), e.email)
})
