import t from 'tap'
import type { Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build, logIn, outboxMessages, PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail, until, type SignedIn, type TestContext } from '../../helper.js'
import { dumpRedis, enrolledUser } from '../../support/mfa.js'

// Many sign-ups (each an Argon2 hash) on a machine the whole suite shares.
t.setTimeout(300_000)

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

async function admin (ctx: TestContext): Promise<SignedIn> {
  const a = await signedInUser(ctx, uniqueEmail('admin'))
  await ctx.app.users.update(a.userId, { role: 'admin' })
  return a
}

async function call (ctx: TestContext, method: Method, url: string, auth?: string, payload?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = auth === undefined ? {} : auth.startsWith('sessionId=') ? { cookie: auth } : { authorization: `Bearer ${auth}` }
  return await ctx.app.inject({ method, url: `/api/admin${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
}

function problem (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, res.body)
  t.equal(res.json().code, code)
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000'

t.test('every admin route: 401 without credentials, 403 for a non-admin, 404 for an unknown id', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  const plain = await signedInUser(ctx)
  const routes: Array<[Method, string, unknown?]> = [
    ['GET', '/users'], ['POST', '/users', { email: uniqueEmail() }], ['GET', `/users/${plain.userId}`],
    ['PATCH', `/users/${plain.userId}`, { firstName: 'X' }], ['POST', `/users/${plain.userId}/disable`],
    ['POST', `/users/${plain.userId}/enable`], ['POST', `/users/${plain.userId}/sessions/end`],
    ['POST', `/users/${plain.userId}/2fa/reset`], ['POST', `/users/${plain.userId}/password-reset`],
    ['DELETE', `/users/${plain.userId}`]
  ]
  const before = await dumpRedis(ctx)
  for (const [method, url, body] of routes) {
    problem(t, await call(ctx, method, url, undefined, body), 401, 'UNAUTHENTICATED')
    problem(t, await call(ctx, method, url, plain.cookie, body), 403, 'FORBIDDEN')
    if (url.includes(plain.userId)) {
      problem(t, await call(ctx, method, url.replace(plain.userId, UNKNOWN), a.cookie, body), 404, 'NOT_FOUND')
      problem(t, await call(ctx, method, url.replace(plain.userId, 'not-a-uuid'), a.cookie, body), 400, 'VALIDATION_FAILED')
    }
  }
  t.equal(await ctx.app.users.findById(plain.userId).then(u => u?.disabled), false, 'the non-admin changed nothing')
  t.ok((await dumpRedis(ctx)).length > 0 && before.length > 0)

  // A demoted admin loses the API at the next request, not when the session ends.
  t.equal((await call(ctx, 'GET', '/users', a.cookie)).statusCode, 200)
  await ctx.app.users.update(a.userId, { role: 'user' })
  problem(t, await call(ctx, 'GET', '/users', a.cookie), 403, 'FORBIDDEN')
})

t.test('a bearer token of an admin works as the cookie does', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  const token = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: a.email, password: PASSWORD } })
  const res = await call(ctx, 'GET', `/users/${a.userId}`, token.json().accessToken)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().user.role, 'admin')
  t.equal(res.json().sessions.length, 2, 'the cookie session and the token family')
  t.same(res.json().mfa, { enabled: false, backupCodesRemaining: 0 })
})

t.test('create, inspect, update, disable, enable and delete a user', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  const email = uniqueEmail('made')
  const created = await call(ctx, 'POST', '/users', a.cookie, { email: email.toUpperCase(), username: 'made', firstName: 'Made', emailVerified: true, invite: true })
  t.equal(created.statusCode, 201, created.body)
  const user = created.json().user
  t.match(user, { email, username: 'made', firstName: 'Made', emailVerified: true, role: 'user', disabled: false })
  t.notOk('passwordHash' in user)
  // The invitation is a link to choose a password.
  const token = await tokenFromOutbox(ctx.outbox, email, 'reset-password')
  t.equal((await ctx.app.inject({ method: 'POST', url: '/api/auth/password/reset', payload: { token, password: 'a chosen passphrase 7' } })).statusCode, 200)
  const session = await logIn(ctx, email, 'a chosen passphrase 7')

  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email }), 409, 'EMAIL_TAKEN')
  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email: uniqueEmail(), username: 'MADE' }), 409, 'USERNAME_TAKEN')
  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email: 'not an address' }), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email: uniqueEmail(), role: 'root' }), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email: uniqueEmail(), password: 'short' }), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'POST', '/users', a.cookie, { email: uniqueEmail(), passwordHash: 'x' }), 400, 'VALIDATION_FAILED')

  const patched = await call(ctx, 'PATCH', `/users/${user.id}`, a.cookie, { role: 'admin', lastName: 'Person', emailVerified: true })
  t.equal(patched.statusCode, 200, patched.body)
  t.match(patched.json().user, { role: 'admin', lastName: 'Person' })
  problem(t, await call(ctx, 'PATCH', `/users/${user.id}`, a.cookie, {}), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'PATCH', `/users/${user.id}`, a.cookie, { disabled: true }), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'PATCH', `/users/${user.id}`, a.cookie, { username: a.email.split('@')[0].slice(0, 3) + '\u0000' }), 400, 'VALIDATION_FAILED')

  const detail = await call(ctx, 'GET', `/users/${user.id}`, a.cookie)
  t.equal(detail.json().sessions.length, 1)
  t.equal(detail.json().sessions[0].current, false)

  t.equal((await call(ctx, 'POST', `/users/${user.id}/disable`, a.cookie)).statusCode, 200)
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: session.cookie } })).statusCode, 401, 'disabling ended the session')
  problem(t, await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'a chosen passphrase 7' } }), 403, 'ACCOUNT_DISABLED')
  t.equal((await call(ctx, 'GET', `/users/${user.id}`, a.cookie)).json().user.disabled, true)
  t.equal((await call(ctx, 'POST', `/users/${user.id}/enable`, a.cookie)).statusCode, 200)
  await logIn(ctx, email, 'a chosen passphrase 7')

  t.equal((await call(ctx, 'POST', `/users/${user.id}/password-reset`, a.cookie)).statusCode, 200)
  t.ok((await outboxMessages(ctx.outbox, email)).some(m => m.subject === 'Reset your Gatehouse password'))

  const deleted = await call(ctx, 'DELETE', `/users/${user.id}`, a.cookie)
  t.equal(deleted.statusCode, 204)
  const dump = await dumpRedis(ctx)
  t.notOk(dump.includes(user.id), 'the id is nowhere in Redis')
  t.notOk(dump.includes(email), 'the address is nowhere in Redis')
  await until('the deletion mail', async () => (await outboxMessages(ctx.outbox, email)).some(m => m.subject === 'Your Gatehouse account was deleted' && /An administrator deleted/.test(m.text)), 5000)
  t.pass('the owner is told, as after DELETE /me')
  problem(t, await call(ctx, 'GET', `/users/${user.id}`, a.cookie), 404, 'NOT_FOUND')
  problem(t, await call(ctx, 'DELETE', `/users/${user.id}`, a.cookie), 404, 'NOT_FOUND')
})

t.test('an admin cannot demote, disable or delete themselves', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  problem(t, await call(ctx, 'PATCH', `/users/${a.userId}`, a.cookie, { role: 'user' }), 409, 'OWN_ACCOUNT')
  problem(t, await call(ctx, 'POST', `/users/${a.userId}/disable`, a.cookie), 409, 'OWN_ACCOUNT')
  problem(t, await call(ctx, 'DELETE', `/users/${a.userId}`, a.cookie), 409, 'OWN_ACCOUNT')
  const self = await ctx.app.users.findById(a.userId)
  t.match(self, { role: 'admin', disabled: false })
  t.equal((await call(ctx, 'PATCH', `/users/${a.userId}`, a.cookie, { firstName: 'Still' })).statusCode, 200, 'other changes to oneself are fine')
})

t.test('ending sessions and resetting 2FA', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  const e = await enrolledUser(ctx)
  t.equal((await call(ctx, 'GET', `/users/${e.userId}`, a.cookie)).json().mfa.backupCodesRemaining, 10)
  t.equal((await call(ctx, 'POST', `/users/${e.userId}/sessions/end`, a.cookie)).statusCode, 200)
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: e.cookie } })).statusCode, 401)
  t.equal((await call(ctx, 'POST', `/users/${e.userId}/2fa/reset`, a.cookie)).statusCode, 200)
  t.same((await call(ctx, 'GET', `/users/${e.userId}`, a.cookie)).json().mfa, { enabled: false, backupCodesRemaining: 0 })
  t.equal(await ctx.redis.exists(`gh:user:{${e.userId}}:totp`), 0)
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: e.email, password: PASSWORD } })
  t.equal(login.json().message, 'Login successful', 'signs in with the password alone')
})

t.test('search by email or username prefix, one user once, bad queries refused', async t => {
  const ctx = await build(t)
  const a = await admin(ctx)
  const ann = await signedInUser(ctx, 'ann@example.com')
  await ctx.app.inject({ method: 'PATCH', url: '/api/auth/me', payload: { username: 'annabel' }, headers: { cookie: ann.cookie } })
  const bob = await signedInUser(ctx, 'bob@example.com')
  await ctx.app.inject({ method: 'PATCH', url: '/api/auth/me', payload: { username: 'Anna_B' }, headers: { cookie: bob.cookie } })
  await signedInUser(ctx, 'carl@example.com')
  const search = async (query: string, extra = ''): Promise<any> => (await call(ctx, 'GET', `/users?query=${encodeURIComponent(query)}${extra}`, a.cookie)).json()
  t.same((await search('ANN')).users.map((u: any) => u.email), ['ann@example.com', 'bob@example.com'], 'ann by email (once), bob by username')
  t.same((await search('carl@')).users.map((u: any) => u.email), ['carl@example.com'])
  t.same((await search('zzz')).users, [])
  const first = await search('', '&limit=2')
  t.equal(first.users.length, 2)
  const rest = (await call(ctx, 'GET', `/users?limit=2&cursor=${first.nextCursor as string}`, a.cookie)).json()
  t.equal(first.users.length + rest.users.length, 4, 'admin, ann, bob, carl')
  t.equal(rest.nextCursor, null)

  problem(t, await call(ctx, 'GET', '/users?limit=0', a.cookie), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'GET', '/users?limit=201', a.cookie), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'GET', '/users?cursor=bm90LWEtY3Vyc29y', a.cookie), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'GET', `/users?query=zzz&cursor=${first.nextCursor as string}`, a.cookie), 400, 'VALIDATION_FAILED')
  problem(t, await call(ctx, 'GET', '/users?other=1', a.cookie), 400, 'VALIDATION_FAILED')
  t.equal((await call(ctx, 'GET', `/users?query=${encodeURIComponent('\u202E\uD83D\uDE00')}`, a.cookie)).statusCode, 200, 'odd Unicode is a search like any other')
})
