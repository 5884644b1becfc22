import t from 'tap'
import { build, cookieOf, emailCodeFromOutbox, logIn, outboxMessages, PASSWORD, registerUser, signedInUser, tokenFromOutbox, uniqueEmail, type TestContext } from '../../helper.js'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { dumpRedis, enrolledUser } from '../../support/mfa.js'
import { decodeSession, encodeSession } from '../../../src/sessions/record.js'

// Many sign-ups (each an Argon2 hash) on a machine the whole suite shares.
t.setTimeout(300_000)

function assertProblem (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, res.body)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, code)
}

async function call (ctx: TestContext, method: 'PATCH' | 'DELETE' | 'POST', url: string, payload: unknown, cookie?: string) {
  return await ctx.app.inject({ method, url: `/api/auth${url}`, payload: payload as Record<string, unknown>, headers: cookie === undefined ? {} : { cookie } })
}

async function record (ctx: TestContext, id: string): Promise<Record<string, string>> {
  return await ctx.redis.hgetall(`gh:user:{${id}}`)
}

t.test('PATCH /me changes the username and names, validated as at registration', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const res = await call(ctx, 'PATCH', '/me', { username: ' Ａda_L ', firstName: ' Ada ', lastName: 'Lovelace' }, u.cookie)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json().user, { username: 'Ada_L', firstName: 'Ada', lastName: 'Lovelace', email: u.email })
  t.equal(await ctx.redis.get('gh:username:ada_l'), u.userId, 'the new name is claimed')
  const cleared = await call(ctx, 'PATCH', '/me', { firstName: null, username: 'ada2' }, u.cookie)
  t.equal(cleared.statusCode, 200)
  t.equal(cleared.json().user.firstName, null)
  t.equal(await ctx.redis.get('gh:username:ada_l'), null, 'the old name is free again')
  t.equal((await logIn(ctx, 'ada2')).userId, u.userId, 'the new username signs in')

  const other = await signedInUser(ctx)
  const before = await record(ctx, other.userId)
  const taken = await call(ctx, 'PATCH', '/me', { username: 'ADA2', lastName: 'Taken' }, other.cookie)
  assertProblem(t, taken, 409, 'USERNAME_TAKEN')
  t.same(await record(ctx, other.userId), before, 'nothing changed')

  for (const [payload, why] of [
    [{}, 'an empty body'],
    [{ role: 'admin' }, 'a field the user may not set'],
    [{ username: 42 }, 'a number'],
    [{ username: 'a b' }, 'a space in a username'],
    [{ firstName: 'x'.repeat(101) }, 'an over-long name'],
    [{ firstName: 'Ev\u202Eil' }, 'a bidi override'],
    [{ username: 'ab' }, 'a short username']
  ] as const) {
    const bad = await call(ctx, 'PATCH', '/me', payload, other.cookie)
    assertProblem(t, bad, 400, 'VALIDATION_FAILED')
    t.same(await record(ctx, other.userId), before, `${why}: nothing changed`)
  }
  const huge = await ctx.app.inject({ method: 'PATCH', url: '/api/auth/me', payload: { firstName: 'x'.repeat(20_000) }, headers: { cookie: other.cookie } })
  t.equal(huge.statusCode, 413)
  t.equal((await call(ctx, 'PATCH', '/me', { firstName: 'x' })).statusCode, 401)
})

t.test('concurrent PATCH /me for one username: exactly one account gets it', async t => {
  const ctx = await build(t)
  const users = await Promise.all(Array.from({ length: 8 }, async () => await signedInUser(ctx)))
  const answers = await Promise.all(users.map(async u => await call(ctx, 'PATCH', '/me', { username: 'wanted' }, u.cookie)))
  t.equal(answers.filter(a => a.statusCode === 200).length, 1)
  t.equal(answers.filter(a => a.statusCode === 409).length, 7)
  const winner = users[answers.findIndex(a => a.statusCode === 200)]
  t.equal(await ctx.redis.get('gh:username:wanted'), winner.userId)
})

t.test('an email change: link to the new address, notice to the old, the address moves on confirm', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const newEmail = uniqueEmail('new')
  assertProblem(t, await call(ctx, 'POST', '/email/change', { newEmail, password: 'wrong password' }, u.cookie), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await call(ctx, 'POST', '/email/change', { newEmail: u.email, password: PASSWORD }, u.cookie), 400, 'VALIDATION_FAILED')
  assertProblem(t, await call(ctx, 'POST', '/email/change', { newEmail, password: PASSWORD, extra: 1 }, u.cookie), 400, 'VALIDATION_FAILED')
  t.equal((await call(ctx, 'POST', '/email/change', { newEmail, password: PASSWORD })).statusCode, 401)
  t.equal((await record(ctx, u.userId)).pendingEmail, undefined, 'nothing pending after refusals')

  // A sign-in code mailed to the old address before the change must die with the change.
  t.equal((await call(ctx, 'POST', '/email-code/request', { email: u.email })).statusCode, 202)
  const oldCode = await emailCodeFromOutbox(ctx.outbox, u.email)
  const res = await call(ctx, 'POST', '/email/change', { newEmail: newEmail.toUpperCase(), password: PASSWORD }, u.cookie)
  t.equal(res.statusCode, 202, res.body)
  const token = await tokenFromOutbox(ctx.outbox, newEmail, 'confirm-email')
  await tokenFromOutbox(ctx.outbox, u.email, 'cancel-email-change')
  t.equal((await record(ctx, u.userId)).email, u.email, 'the address has not changed yet')

  const confirms = await Promise.all(Array.from({ length: 5 }, async () => await call(ctx, 'POST', '/email/confirm', { token })))
  t.equal(confirms.filter(c => c.statusCode === 200).length, 1, 'one link, one change')
  for (const c of confirms.filter(c => c.statusCode !== 200)) t.equal(c.json().code, 'INVALID_TOKEN')
  t.equal(confirms.find(c => c.statusCode === 200)!.json().user.email, newEmail)
  t.equal(await ctx.redis.get(`gh:email:${newEmail}`), u.userId)
  t.ok(await ctx.redis.pttl(`gh:email:${u.email}`) > 0, 'the old address stays reserved while the change can be undone')
  t.equal((await logIn(ctx, newEmail)).userId, u.userId, 'the new address signs in')
  assertProblem(t, await call(ctx, 'POST', '/email-code/verify', { token: oldCode.token }), 400, 'INVALID_TOKEN')
  assertProblem(t, await call(ctx, 'POST', '/email/confirm', { token }), 400, 'INVALID_TOKEN')
  // Another change now would replace the "this wasn't me" link the old address holds.
  const again = await call(ctx, 'POST', '/email/change', { newEmail: uniqueEmail('third'), password: PASSWORD }, u.cookie)
  assertProblem(t, again, 429, 'RATE_LIMITED')
  t.ok(Number(again.headers['retry-after']) > 0)
})

t.test('"this wasn\'t me" after a confirmed change puts the old address back and ends every session', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const attacker = uniqueEmail('attacker')
  t.equal((await call(ctx, 'POST', '/email/change', { newEmail: attacker, password: PASSWORD }, u.cookie)).statusCode, 202)
  t.equal((await call(ctx, 'POST', '/email/confirm', { token: await tokenFromOutbox(ctx.outbox, attacker, 'confirm-email') })).statusCode, 200)
  const mails = await outboxMessages(ctx.outbox, u.email)
  t.same(mails.map(m => m.subject).filter(s => /Gatehouse address/.test(s)), ['Your Gatehouse address is about to change', 'Your Gatehouse address was changed'], 'a notice at the request and at the change')
  const cancel = await tokenFromOutbox(ctx.outbox, u.email, 'cancel-email-change')
  const res = await call(ctx, 'POST', '/email/cancel', { token: cancel })
  t.equal(res.statusCode, 200, res.body)
  t.equal((await record(ctx, u.userId)).email, u.email, 'the old address is back')
  t.equal(await ctx.redis.get(`gh:email:${u.email}`), u.userId)
  t.equal(await ctx.redis.pttl(`gh:email:${u.email}`), -1, 'and claimed for good')
  t.equal(await ctx.redis.get(`gh:email:${attacker}`), null, 'the attacker\'s address is free')
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode, 401, 'the session ended')
  assertProblem(t, await call(ctx, 'POST', '/email/cancel', { token: cancel }), 400, 'INVALID_TOKEN')
  t.equal((await logIn(ctx, u.email)).userId, u.userId)
})

t.test('"this wasn\'t me" before the confirmation kills the confirmation link', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const newEmail = uniqueEmail('new')
  t.equal((await call(ctx, 'POST', '/email/change', { newEmail, password: PASSWORD }, u.cookie)).statusCode, 202)
  const token = await tokenFromOutbox(ctx.outbox, newEmail, 'confirm-email')
  t.equal((await call(ctx, 'POST', '/email/cancel', { token: await tokenFromOutbox(ctx.outbox, u.email, 'cancel-email-change') })).statusCode, 200)
  assertProblem(t, await call(ctx, 'POST', '/email/confirm', { token }), 400, 'INVALID_TOKEN')
  t.equal((await record(ctx, u.userId)).email, u.email)
  t.equal((await record(ctx, u.userId)).pendingEmail, undefined)
})

t.test('POST /email/change mails the new address within its per-address budget', async t => {
  const ctx = await build(t, { EMAIL_ADDRESS_RATE_LIMIT: '2' })
  const u = await signedInUser(ctx)
  const target = uniqueEmail('bombed')
  // Each attempt from another account, so only the address's budget can refuse.
  for (let i = 0; i < 2; i++) {
    const other = await signedInUser(ctx)
    t.equal((await call(ctx, 'POST', '/email/change', { newEmail: target, password: PASSWORD }, other.cookie)).statusCode, 202)
  }
  const third = await call(ctx, 'POST', '/email/change', { newEmail: target, password: PASSWORD }, u.cookie)
  assertProblem(t, third, 429, 'RATE_LIMITED')
  t.equal((await record(ctx, u.userId)).pendingEmail, undefined, 'the refused request changed nothing')
})

t.test('a taken address gets a notice and the same 202; taken meanwhile, the confirmation answers 409', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const other = await signedInUser(ctx)
  const res = await call(ctx, 'POST', '/email/change', { newEmail: other.email, password: PASSWORD }, u.cookie)
  t.equal(res.statusCode, 202)
  t.equal((await record(ctx, u.userId)).pendingEmail, undefined, 'nothing pending')
  t.match((await outboxMessages(ctx.outbox, other.email)).at(-1)?.subject, /tried to move an account/)

  const later = uniqueEmail('later')
  t.equal((await call(ctx, 'POST', '/email/change', { newEmail: later, password: PASSWORD }, u.cookie)).statusCode, 202)
  const token = await tokenFromOutbox(ctx.outbox, later, 'confirm-email')
  await registerUser(ctx, later)
  assertProblem(t, await call(ctx, 'POST', '/email/confirm', { token }), 409, 'EMAIL_TAKEN')
  t.equal((await record(ctx, u.userId)).email, u.email)
})

t.test('DELETE /me: wrong password or missing 2FA code change nothing', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const before = await record(ctx, u.userId)
  assertProblem(t, await call(ctx, 'DELETE', '/me', { password: 'wrong password' }, u.cookie), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await call(ctx, 'DELETE', '/me', { password: PASSWORD, extra: true }, u.cookie), 400, 'VALIDATION_FAILED')
  assertProblem(t, await call(ctx, 'DELETE', '/me', {}, u.cookie), 400, 'VALIDATION_FAILED')
  t.equal((await call(ctx, 'DELETE', '/me', { password: PASSWORD })).statusCode, 401)
  t.same(await record(ctx, u.userId), before)

  const e = await enrolledUser(ctx)
  assertProblem(t, await call(ctx, 'DELETE', '/me', { password: PASSWORD }, e.cookie), 401, 'INVALID_MFA_CODE')
  assertProblem(t, await call(ctx, 'DELETE', '/me', { password: PASSWORD, totpCode: '000000' }, e.cookie), 401, 'INVALID_MFA_CODE')
  t.equal((await record(ctx, e.userId)).id, e.userId, 'still there')
})

t.test('DELETE /me leaves neither the id nor the address anywhere in Redis, and frees both', async t => {
  const ctx = await build(t)
  const e = await enrolledUser(ctx)
  t.equal((await call(ctx, 'PATCH', '/me', { username: 'goner' }, e.cookie)).statusCode, 200)
  // Everything an account can hold: a token family, a second session, a pending email
  // change, a reset link, a linked identity, a sign-in back-off.
  const login = await call(ctx, 'POST', '/token', { email: e.email, password: PASSWORD, totpCode: await e.auth.next() })
  t.equal(login.statusCode, 200, login.body)
  t.equal((await call(ctx, 'POST', '/email/change', { newEmail: uniqueEmail('pending'), password: PASSWORD }, e.cookie)).statusCode, 202)
  t.equal((await call(ctx, 'POST', '/password/forgot', { email: e.email })).statusCode, 202)
  await ctx.app.oauth.identities.link(e.userId, { provider: 'github', issuer: 'https://github.com', subject: '12345', email: e.email })
  await call(ctx, 'POST', '/login', { email: e.email, password: 'a wrong password' })
  t.equal((await call(ctx, 'POST', '/email-code/request', { email: e.email })).statusCode, 202, 'and an emailed sign-in code')
  await emailCodeFromOutbox(ctx.outbox, e.email)

  const res = await call(ctx, 'DELETE', '/me', { password: PASSWORD, totpCode: e.backupCodes[0] }, e.cookie)
  t.equal(res.statusCode, 204, res.body)
  t.match(res.headers['set-cookie'], /sessionId=;/, 'the cookie is expired')
  const dump = await dumpRedis(ctx)
  t.notOk(dump.includes(e.userId), 'the user id is nowhere in Redis')
  t.notOk(dump.toLowerCase().includes(e.email.toLowerCase()), 'the address is nowhere in Redis')
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${login.json().accessToken as string}` } })).statusCode, 401, 'the token family ended')
  t.equal(await ctx.app.oauth.identities.userOf('https://github.com', '12345'), null, 'the identity is free')

  const again = await signedInUser(ctx, e.email)
  t.not(again.userId, e.userId, 'the address can be registered again')
  t.equal((await call(ctx, 'PATCH', '/me', { username: 'goner' }, again.cookie)).statusCode, 200, 'and the username taken again')
})

t.test('DELETE /me of an account without a password: a fresh sign-in is the proof', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  // As a provider's or a passkeys-only account holds it.
  await ctx.redis.hset(`gh:user:{${u.userId}}`, 'passwordHash', '')
  const stale = await signedInUser(ctx)
  await ctx.redis.hset(`gh:user:{${stale.userId}}`, 'passwordHash', '')
  for (const key of await ctx.redis.keys('gh:sess:*')) {
    const s = decodeSession(await ctx.redis.get(key) as string, ctx.app.config.sessionAbsoluteTtlMs)
    if (s.userId === stale.userId) await ctx.redis.set(key, encodeSession({ ...s, createdAt: s.createdAt - 11 * 60_000 }), 'KEEPTTL')
  }
  assertProblem(t, await call(ctx, 'DELETE', '/me', {}, stale.cookie), 403, 'REAUTHENTICATION_REQUIRED')
  t.equal((await record(ctx, stale.userId)).id, stale.userId, 'a sign-in older than 10 minutes deletes nothing')
  const withPasswordUser = await signedInUser(ctx)
  assertProblem(t, await call(ctx, 'DELETE', '/me', {}, withPasswordUser.cookie), 400, 'VALIDATION_FAILED')
  t.equal((await record(ctx, withPasswordUser.userId)).id, withPasswordUser.userId, 'an account with a password must send it')
  t.equal((await call(ctx, 'DELETE', '/me', {}, u.cookie)).statusCode, 204)
  t.same(await record(ctx, u.userId), {}, 'a fresh sign-in deletes it')
})

t.test('concurrent DELETE /me of one account: one 204, the account gone once', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const answers = await Promise.all(Array.from({ length: 6 }, async () => await call(ctx, 'DELETE', '/me', { password: PASSWORD }, u.cookie)))
  t.ok(answers.some(a => a.statusCode === 204))
  for (const a of answers) t.ok(a.statusCode === 204 || a.statusCode === 401, `answered ${a.statusCode}`)
  t.same(await record(ctx, u.userId), {})
  t.notOk((await dumpRedis(ctx)).includes(u.userId))
  t.equal(cookieOf(answers[0]) === undefined || cookieOf(answers[0]) === 'sessionId=', true)
})
