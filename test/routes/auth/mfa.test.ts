import t from 'tap'
import { build, cookieOf, PASSWORD, signedInUser, Authenticator, base32Decode } from '../../helper.js'
import { assertLoginSuccess, assertProblem, dumpRedis, enrolledUser, KEY, login, me, mfaState, post } from '../../support/mfa.js'

t.test('enrolment: setup gives a scannable URI and QR code, enable turns 2FA on and shows ten backup codes once', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const u = await signedInUser(ctx)
  const userId = u.userId
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
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: 'wrong password', code: e.backupCodes[2] }, e.cookie), 401, 'INVALID_CREDENTIALS')
  t.same(await mfaState(ctx, e.userId), before, 'a wrong password changes nothing (and spends no code)')
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD }, e.cookie), 400, 'VALIDATION_FAILED')
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: e.auth.codeAgo(4) }, e.cookie), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: e.backupCodes[0] }, e.cookie), 401, 'INVALID_MFA_CODE')
  t.same(await mfaState(ctx, e.userId), before, 'the password alone, a stale TOTP code or a spent backup code change nothing')
  const regen = await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: await e.auth.next() }, e.cookie)
  t.equal(regen.statusCode, 200)
  const fresh: string[] = regen.json().backupCodes
  t.equal(fresh.length, 10)
  t.equal(fresh.filter(c => e.backupCodes.includes(c)).length, 0)
  t.equal((await me(ctx, otherCookie)).statusCode, 401, 'other sessions ended')
  t.equal((await me(ctx, e.cookie)).statusCode, 200, 'this session kept')

  const ch3 = (await login(ctx, e.email)).json().mfaToken
  assertProblem(t, await post(ctx, '/mfa/verify', { mfaToken: ch3, code: e.backupCodes[2] }), 401, 'INVALID_MFA_CODE')
  assertLoginSuccess(t, await post(ctx, '/mfa/verify', { mfaToken: ch3, code: fresh[0] }), e.email)

  // A backup code is a second factor for new codes too: it is spent, then the set replaced.
  const again = await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: fresh[1] }, e.cookie)
  t.equal(again.statusCode, 200)
  t.equal(await ctx.redis.scard(`gh:user:{${e.userId}}:backup-codes`), 10)
  assertProblem(t, await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: fresh[2] }, e.cookie), 401, 'INVALID_MFA_CODE')
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
  const freshId = fresh.userId
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
    ['/2fa/backup-codes', {}], ['/2fa/backup-codes', { password: true, code: '123456' }], ['/2fa/backup-codes', { password: PASSWORD, code: '123456', regenerate: true }],
    ['/2fa/backup-codes', { password: huge, code: '123456' }], ['/2fa/backup-codes', { password: PASSWORD }], ['/2fa/backup-codes', { code: '123456' }],
    ['/2fa/backup-codes', { password: PASSWORD, code: 123456 }], ['/2fa/backup-codes', { password: PASSWORD, code: huge }], ['/2fa/disable', { password: PASSWORD, code: '123456', pad: huge }],
    ['/mfa/verify', {}], ['/mfa/verify', { mfaToken: token }], ['/mfa/verify', { code: '123456' }],
    ['/mfa/verify', { mfaToken: token, code: '123456', method: 'sms' }], ['/mfa/verify', { mfaToken: token, code: '123456', userId: e.userId }],
    ['/mfa/verify', { mfaToken: token.slice(1), code: '123456' }], ['/mfa/verify', { mfaToken: token + '=', code: '123456' }],
    ['/mfa/verify', { mfaToken: 42, code: '123456' }], ['/mfa/verify', { mfaToken: token, code: ['123456'] }],
    ['/mfa/verify', { mfaToken: token, code: { $gt: '' } }], ['/mfa/verify', { mfaToken: token, code: huge }],
    ['/login', { email: e.email, password: PASSWORD, totpCode: 123456 }], ['/login', { email: e.email, password: PASSWORD, totpCode: '12345' }]
  ]
  for (const code of odd) {
    cases.push(['/2fa/enable', { code }], ['/2fa/disable', { password: PASSWORD, code }], ['/2fa/backup-codes', { password: PASSWORD, code }], ['/mfa/verify', { mfaToken: token, code }],
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
