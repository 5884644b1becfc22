import t from 'tap'
import type { Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import type { SecurityEvent } from '../../../src/events/catalogue.js'
import { build, cookieOf, emailCodeFromOutbox, kill9, outboxMessages, registerUser, signedInUser, uniqueEmail, type TestContext } from '../../helper.js'
import { assertProblem, dumpRedis, enrolledUser, KEY, me, post } from '../../support/mfa.js'

const ask = async (ctx: TestContext, email: string, ip = '192.0.2.1'): Promise<LightMyRequestResponse> =>
  await ctx.app.inject({ method: 'POST', url: '/api/auth/email-code/request', payload: { email }, remoteAddress: ip })

const verify = async (ctx: TestContext, payload: Record<string, unknown>, ip = '192.0.2.1'): Promise<LightMyRequestResponse> =>
  await ctx.app.inject({ method: 'POST', url: '/api/auth/email-code/verify', payload, remoteAddress: ip })

/** A verified account with a live emailed code: its address, the code and the link token. */
async function withCode (ctx: TestContext) {
  const u = await signedInUser(ctx)
  const asked = await ask(ctx, u.email)
  if (asked.statusCode !== 202) throw new Error(`request answered ${asked.statusCode}: ${asked.body}`)
  return { ...u, ...await emailCodeFromOutbox(ctx.outbox, u.email) }
}

function assertSignedIn (t: Test, res: LightMyRequestResponse, email: string): string {
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['csrfToken', 'message', 'session', 'user'])
  t.equal(body.message, 'Login successful')
  t.equal(body.user.email, email)
  const cookie = cookieOf(res)
  t.ok(cookie, 'a session cookie')
  t.ok(res.cookies.some(c => c.name === 'gatehouseDevice'), 'a device cookie')
  return cookie as string
}

t.test('the emailed code signs in as a password would, once; the mail\'s link dies with it', async t => {
  const ctx = await build(t)
  const events: SecurityEvent[] = []
  ctx.app.events.addSink(async e => { events.push(e) })
  const u = await withCode(ctx)
  t.match(u.code, /^[0-9]{6}$/)
  t.match(u.token, /^[A-Za-z0-9_-]{43}$/, '256 bits')
  t.match(u.text, `${ctx.config.appOrigin}/sign-in?token=${u.token}`)
  t.match(u.text, /for 10 minutes/)

  const dump = await dumpRedis(ctx)
  t.notOk(dump.includes(u.token), 'the link token is not stored')
  t.notOk(dump.includes(u.code), 'the code is not stored')
  const pttl = await ctx.redis.pttl(`gh:user:{${u.userId}}:email-code`)
  t.ok(pttl > 590_000 && pttl <= 600_000, `it lives 10 minutes (${pttl} ms left)`)

  const cookie = assertSignedIn(t, await verify(ctx, { email: u.email.toUpperCase(), code: `${u.code.slice(0, 3)} ${u.code.slice(3)}` }), u.email)
  t.equal((await me(ctx, cookie)).statusCode, 200)
  const sessions = (await ctx.app.inject({ url: '/api/auth/sessions', headers: { cookie } })).json().sessions
  t.equal(sessions.length, 2, 'listed beside the password sign-in')
  t.equal(sessions.filter((s: { current: boolean }) => s.current).length, 1)

  assertProblem(t, await verify(ctx, { email: u.email, code: u.code }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await verify(ctx, { token: u.token }), 400, 'INVALID_TOKEN')
  t.same([...await ctx.redis.keys('gh:user:*:email-code'), ...await ctx.redis.keys('gh:email-code:*')], [], 'nothing of the request is left')

  const signedIn = events.filter(e => e.type === 'session.signed_in' && e.data.method === 'email_code')
  t.equal(signedIn.length, 1)
  t.match(signedIn[0].data, { method: 'email_code', kind: 'cookie', mfa: false })
  t.equal(signedIn[0].userId, u.userId)
  // The spent link names no account any more: only the code's failure is the account's event.
  t.same(events.filter(e => e.type === 'session.sign_in_failed').map(e => e.data), [{ method: 'email_code', failures: 1 }])
  const metrics = (await ctx.app.inject({ url: '/metrics' })).body
  t.match(metrics, /gatehouse_logins_total\{outcome="success"\} 2/, 'the password and the code sign-in')
  t.match(metrics, /gatehouse_logins_total\{outcome="invalid_credentials"\} 1/)
  t.match(metrics, /gatehouse_logins_total\{outcome="invalid_token"\} 1/)
})

t.test('the emailed link signs in once; the mail\'s code dies with it', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const cookie = assertSignedIn(t, await verify(ctx, { token: u.token }), u.email)
  t.equal((await me(ctx, cookie)).statusCode, 200)
  assertProblem(t, await verify(ctx, { token: u.token }), 400, 'INVALID_TOKEN')
  assertProblem(t, await verify(ctx, { email: u.email, code: u.code }), 401, 'INVALID_CREDENTIALS')
})

t.test('with grant "token" it answers as /token', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const res = await verify(ctx, { email: u.email, code: u.code, grant: 'token' })
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['accessToken', 'expiresAt', 'expiresIn', 'refreshToken', 'tokenType'])
  t.equal(cookieOf(res), undefined, 'no cookie')
  const whoami = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${body.accessToken}` } })
  t.equal(whoami.json().user.email, u.email)
})

t.test('a new request replaces the old code and link', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  t.equal((await ask(ctx, u.email)).statusCode, 202)
  const second = await emailCodeFromOutbox(ctx.outbox, u.email, 2)
  t.not(second.token, u.token)
  assertProblem(t, await verify(ctx, { token: u.token }), 400, 'INVALID_TOKEN')
  if (u.code !== second.code) assertProblem(t, await verify(ctx, { email: u.email, code: u.code }), 401, 'INVALID_CREDENTIALS')
  assertSignedIn(t, await verify(ctx, { email: u.email, code: second.code }), u.email)
  t.equal((await ctx.redis.keys('gh:email-code:*')).length, 0, 'no link key left behind')
})

t.test('an expired code and link are refused', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  // Ten minutes are not waited for: the keys are given what is left of them at the end.
  for (const key of [...await ctx.redis.keys('gh:user:*:email-code'), ...await ctx.redis.keys('gh:email-code:*')]) await ctx.redis.pexpire(key, 1)
  await new Promise(resolve => setTimeout(resolve, 20))
  assertProblem(t, await verify(ctx, { email: u.email, code: u.code }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await verify(ctx, { token: u.token }), 400, 'INVALID_TOKEN')
})

t.test('five wrong codes end the code, however many arrive at once from many addresses; the link still works', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const wrong = String((Number(u.code) + 1) % 1_000_000).padStart(6, '0')
  const burst = await Promise.all(Array.from({ length: 40 }, async (_, i) => await verify(ctx, { email: u.email, code: wrong }, `198.51.100.${i + 1}`)))
  t.same([...new Set(burst.map(r => r.statusCode))], [401])
  t.same([...new Set(burst.map(r => r.json().code))], ['INVALID_CREDENTIALS'])
  const left = await ctx.redis.hgetall(`gh:user:{${u.userId}}:email-code`)
  t.equal(left.code, undefined, 'the code is gone')
  t.ok(Number(left.attempts) >= 5, 'every attempt was counted')
  assertProblem(t, await verify(ctx, { email: u.email, code: u.code }), 401, 'INVALID_CREDENTIALS')
  assertSignedIn(t, await verify(ctx, { token: u.token }), u.email)
})

t.test('four wrong codes leave the right one working', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const wrong = String((Number(u.code) + 7) % 1_000_000).padStart(6, '0')
  for (let i = 0; i < 4; i++) assertProblem(t, await verify(ctx, { email: u.email, code: wrong }), 401, 'INVALID_CREDENTIALS')
  assertSignedIn(t, await verify(ctx, { email: u.email, code: u.code }), u.email)
})

t.test('the right code sent many times at once signs in exactly once', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const all = await Promise.all(Array.from({ length: 20 }, async (_, i) => await verify(ctx, i % 2 === 0 ? { email: u.email, code: u.code } : { token: u.token }, `203.0.113.${i + 1}`)))
  t.equal(all.filter(r => r.statusCode === 200).length, 1)
})

t.test('no answer tells whether the address has an account, and only a verified, enabled account is mailed', async t => {
  const ctx = await build(t)
  const known = await signedInUser(ctx)
  const unverified = await registerUser(ctx, uniqueEmail('unverified'))
  const disabled = await signedInUser(ctx)
  await ctx.app.users.update(disabled.userId, { disabled: true })
  const nobody = uniqueEmail('nobody')
  const answers = await Promise.all([known.email, unverified.email, disabled.email, nobody].map(async e => await ask(ctx, e)))
  const visible = (r: LightMyRequestResponse) => ({ status: r.statusCode, body: r.body, type: r.headers['content-type'] })
  for (const r of answers) t.same(visible(r), visible(answers[0]))
  t.equal(answers[0].statusCode, 202)
  t.equal(answers[0].json().message, 'If the address belongs to an account, a sign-in code is on its way.')
  await emailCodeFromOutbox(ctx.outbox, known.email)
  await new Promise(resolve => setTimeout(resolve, 200))
  for (const e of [unverified.email, disabled.email, nobody]) {
    t.same((await outboxMessages(ctx.outbox, e)).filter(m => m.subject.includes('sign-in code')), [], `nothing mailed to ${e.split('.')[0]}`)
  }
  t.same(await ctx.redis.keys('gh:decoy:*'), [], 'the decoy work leaves nothing')

  const wrong = await Promise.all([known.email, unverified.email, disabled.email, nobody].map(async e => await verify(ctx, { email: e, code: '000000' })))
  for (const r of wrong) t.same(visible(r), visible(wrong[0]))
  t.equal(wrong[0].statusCode, 401)
})

t.test('a right code for an account disabled since is 403, and a credential change kills the code', async t => {
  const ctx = await build(t)
  const a = await withCode(ctx)
  await ctx.app.users.update(a.userId, { disabled: true })
  assertProblem(t, await verify(ctx, { email: a.email, code: a.code }), 403, 'ACCOUNT_DISABLED')
  const b = await withCode(ctx)
  await ctx.app.users.bumpCredentials(b.userId)
  assertProblem(t, await verify(ctx, { email: b.email, code: b.code }), 401, 'INVALID_CREDENTIALS')
  const c = await withCode(ctx)
  await ctx.app.users.bumpCredentials(c.userId)
  assertProblem(t, await verify(ctx, { token: c.token }), 400, 'INVALID_TOKEN')
})

t.test('with 2FA on, the code leads to the same challenge as /login', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  t.equal((await ask(ctx, e.email)).statusCode, 202)
  const mailed = await emailCodeFromOutbox(ctx.outbox, e.email)
  const first = await verify(ctx, { email: e.email, code: mailed.code })
  t.equal(first.statusCode, 200)
  t.equal(cookieOf(first), undefined, 'no cookie yet')
  const challenge = first.json()
  t.same(Object.keys(challenge).sort(), ['expiresIn', 'mfaMethods', 'mfaRequired', 'mfaToken'])
  const done = await post(ctx, '/mfa/verify', { mfaToken: challenge.mfaToken, code: await e.auth.next() })
  t.equal(done.statusCode, 200, done.body)
  t.equal((await me(ctx, cookieOf(done) as string)).statusCode, 200)
  const listed = (await ctx.app.inject({ method: 'GET', url: '/api/auth/sessions', headers: { cookie: cookieOf(done) as string } })).json().sessions
  t.equal(listed.find((s: { current: boolean }) => s.current).method, 'email_code', 'the session is listed as an emailed-code sign-in, not a password one')

  // By link, asking for tokens: the challenge completes with tokens.
  t.equal((await ask(ctx, e.email)).statusCode, 202)
  const again = await emailCodeFromOutbox(ctx.outbox, e.email, 2)
  const viaLink = (await verify(ctx, { token: again.token, grant: 'token' })).json()
  t.equal(viaLink.mfaRequired, true)
  const tokens = await post(ctx, '/mfa/verify', { mfaToken: viaLink.mfaToken, code: e.backupCodes[0] })
  t.ok(tokens.json().accessToken, 'bearer tokens')
  const families = (await ctx.app.inject({ method: 'GET', url: '/api/auth/sessions', headers: { authorization: `Bearer ${tokens.json().accessToken as string}` } })).json().sessions
  t.equal(families.find((s: { current: boolean }) => s.current).method, 'email_code', 'the token family too')
})

t.test('wrong codes spend the account\'s back-off; the link is not held back by it', async t => {
  const ctx = await build(t, { LOGIN_FREE_FAILURES: '3' })
  const u = await withCode(ctx)
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await verify(ctx, { email: u.email, code: u.code === '999999' ? '999998' : '999999' }, `192.0.2.${i + 10}`)).statusCode)
  t.same(statuses, [401, 401, 401, 429])
  assertSignedIn(t, await verify(ctx, { token: u.token }), u.email)
  t.equal(await ctx.redis.exists(ctx.app.loginThrottle.key(u.userId)), 0, 'the link\'s sign-in ended the back-off')
})

t.test('the per-address mail budget applies, apart from the reset budget', async t => {
  const ctx = await build(t, { EMAIL_ADDRESS_RATE_LIMIT: '2' })
  const u = await signedInUser(ctx)
  t.same([(await ask(ctx, u.email)).statusCode, (await ask(ctx, u.email)).statusCode], [202, 202])
  const third = await ask(ctx, u.email)
  assertProblem(t, third, 429, 'RATE_LIMITED')
  t.ok(Number(third.headers['retry-after']) > 0)
  const forgot = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/forgot', payload: { email: u.email }, remoteAddress: '192.0.2.1' })
  t.equal(forgot.statusCode, 202, 'a reset is still possible')
  t.equal((await ask(ctx, u.email, '192.0.2.99')).statusCode, 202, 'another client has its own budget')
})

t.test('bad input is a clear 400 and changes nothing stored', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const before = await ctx.redis.hgetall(`gh:user:{${u.userId}}:email-code`)
  const bodies: unknown[] = [
    {},
    { email: u.email },
    { code: u.code },
    { email: u.email, code: u.code, token: u.token },
    { email: u.email, token: u.token },
    { email: u.email, code: Number(u.code) },
    { email: u.email, code: '12345' },
    { email: u.email, code: '１２３４５６' },
    { email: u.email, code: u.code, extra: 1 },
    { token: 'short' },
    { token: u.token, grant: 'cookie' },
    { email: ['a@b.c'], code: u.code },
    { email: 'x'.repeat(300), code: u.code },
    { email: 'not-an-address\u202e@example.com', code: u.code }
  ]
  for (const payload of bodies) {
    const res = await verify(ctx, payload as Record<string, unknown>)
    assertProblem(t, res, 400, 'VALIDATION_FAILED')
  }
  t.same(((await verify(ctx, { email: u.email })).json()).formErrors, ['give either email and code, or token'], 'a half body says what is missing')
  for (const payload of [{}, { email: 42 }, { email: u.email, more: true }, { email: 'a\u0000@example.com' }, { email: 'nope' }]) {
    assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/api/auth/email-code/request', payload }), 400, 'VALIDATION_FAILED')
  }
  const huge = await ctx.app.inject({ method: 'POST', url: '/api/auth/email-code/verify', payload: { email: u.email, code: u.code, pad: 'x'.repeat(20_000) } })
  assertProblem(t, huge, 413, 'PAYLOAD_TOO_LARGE')
  const form = await ctx.app.inject({ method: 'POST', url: '/api/auth/email-code/request', payload: `email=${u.email}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  assertProblem(t, form, 415, 'UNSUPPORTED_MEDIA_TYPE')
  t.same(await ctx.redis.hgetall(`gh:user:{${u.userId}}:email-code`), before, 'the request is as it was')
  assertSignedIn(t, await verify(ctx, { email: u.email, code: u.code }), u.email)
})

t.test('EMAIL_CODE_SIGN_IN=false: both routes answer 404', async t => {
  const ctx = await build(t, { EMAIL_CODE_SIGN_IN: 'false' })
  const u = await signedInUser(ctx)
  assertProblem(t, await ask(ctx, u.email), 404, 'NOT_FOUND')
  assertProblem(t, await verify(ctx, { token: 'a'.repeat(43) }), 404, 'NOT_FOUND')
})

t.test('with Redis gone, both routes answer a fast 503 and nothing is mailed', async t => {
  const ctx = await build(t)
  const u = await withCode(ctx)
  const mailed = (await outboxMessages(ctx.outbox, u.email)).length
  await kill9(ctx.server)
  for (const res of [await ask(ctx, u.email), await verify(ctx, { email: u.email, code: u.code }), await verify(ctx, { token: u.token })]) {
    assertProblem(t, res, 503, 'SERVICE_UNAVAILABLE')
    t.ok(Number(res.headers['retry-after']) > 0, 'with Retry-After')
  }
  t.equal((await outboxMessages(ctx.outbox, u.email)).length, mailed, 'no new mail')
})
