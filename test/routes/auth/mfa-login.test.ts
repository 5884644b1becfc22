import t from 'tap'
import { randomBytes } from 'node:crypto'
import { build, cookieOf, PASSWORD, registerUser, uniqueEmail, verifyUser } from '../../helper.js'
import { assertLoginSuccess, assertProblem, dumpRedis, enrolledUser, KEY, login, me, post } from '../../support/mfa.js'

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

  const spaced = (await e.auth.next()).replace(/^(...)/, '$1 ')
  const verified = await post(ctx, '/mfa/verify', { mfaToken: challenge.mfaToken, code: spaced })
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
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: '123456' }, cookie), 409, 'MFA_NOT_ENABLED')
  assertProblem(t, await post(ctx, '/2fa/enable', { code: '123456' }, cookie), 409, 'MFA_SETUP_REQUIRED')
})
