import t from 'tap'
import { build, cookieOf, PASSWORD, registerUser, signedInUser, tokenFromOutbox, uniqueEmail, verifyUser, type TestContext } from '../helper.js'
import { enrolledUser, post } from '../support/mfa.js'
import { APP, CALLBACK, buildWithProvider, callback, signInWith } from '../oauth/flow-helper.js'
import { authorizeAtProvider } from '../oauth/provider.js'
import { run } from '../../src/cli/user.js'
import { EVENT_CATALOGUE } from '../../src/events/catalogue.js'
import { eventsOf, globalEvents, idOf, lastEvent } from './support.js'

/*
 * Every action of the catalogue that Gatehouse has today records its event in the user's
 * stream, with the request's IP and user agent where a request caused it.
 */

const UA = 'events-test/1.0'

async function inject (ctx: TestContext, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, cookie?: string, headers: Record<string, string> = {}) {
  return await ctx.app.inject({ method, url: `/api/auth${url}`, payload: payload as Record<string, unknown> | undefined, headers: { 'user-agent': UA, ...(cookie === undefined ? {} : { cookie }), ...headers } })
}

t.test('account, session and password actions', async t => {
  const ctx = await build(t)

  await t.test('sign-up and email verification', async t => {
    const { email } = await registerUser(ctx)
    const userId = await idOf(ctx, email)
    t.match(await lastEvent(ctx, userId, 'user.signed_up'), { type: 'user.signed_up', ip: '127.0.0.1', data: { method: 'password' } })
    await verifyUser(ctx, email)
    t.ok(await lastEvent(ctx, userId, 'user.email_verified'))
    // A second registration of the address creates nothing, so records nothing.
    await registerUser(ctx, email)
    t.equal((await eventsOf(ctx, userId)).filter(e => e.type === 'user.signed_up').length, 1)
  })

  await t.test('a password sign-in, with IP and user agent; the account\'s first is no new device', async t => {
    const u = await signedInUser(ctx)
    const e = await lastEvent(ctx, u.userId, 'session.signed_in')
    t.match(e, { ip: '127.0.0.1', userAgent: 'lightMyRequest', data: { method: 'password', kind: 'cookie', mfa: false, newDevice: false } })
    t.match(e?.id, /^[0-9a-f-]{36}$/)
    t.ok(Math.abs(e!.at - Date.now()) < 10_000)
  })

  await t.test('a bearer sign-in', async t => {
    const u = await signedInUser(ctx)
    const res = await inject(ctx, 'POST', '/token', { email: u.email, password: PASSWORD })
    t.equal(res.statusCode, 200)
    t.match(await lastEvent(ctx, u.userId, 'session.signed_in'), { userAgent: UA, data: { method: 'password', kind: 'token' } })
  })

  await t.test('a failed sign-in on a known account; none for an unknown one', async t => {
    const u = await signedInUser(ctx)
    const before = (await globalEvents(ctx)).length
    const wrong = await inject(ctx, 'POST', '/login', { email: u.email, password: 'not the password' })
    t.equal(wrong.statusCode, 401)
    t.match(await lastEvent(ctx, u.userId, 'session.sign_in_failed'), { ip: '127.0.0.1', userAgent: UA, data: { method: 'password', failures: 1 } })
    const unknown = await inject(ctx, 'POST', '/login', { email: uniqueEmail('nobody'), password: 'not the password' })
    t.equal(unknown.statusCode, 401)
    t.equal((await globalEvents(ctx)).length, before + 1, 'only the known account\'s failure was recorded')
  })

  await t.test('sign-out, of a cookie session and of a token family', async t => {
    const u = await signedInUser(ctx)
    t.equal((await inject(ctx, 'POST', '/logout', {}, u.cookie)).statusCode, 204)
    t.match(await lastEvent(ctx, u.userId, 'session.signed_out'), { userAgent: UA, data: { kind: 'cookie' } })
    const grant = (await inject(ctx, 'POST', '/token', { email: u.email, password: PASSWORD })).json()
    t.equal((await inject(ctx, 'POST', '/logout', {}, undefined, { authorization: `Bearer ${grant.accessToken}` })).statusCode, 204)
    t.match(await lastEvent(ctx, u.userId, 'session.signed_out'), { data: { kind: 'token' } })
    const before = (await eventsOf(ctx, u.userId)).length
    t.equal((await inject(ctx, 'POST', '/logout', {})).statusCode, 204, 'a logout without a session')
    t.equal((await eventsOf(ctx, u.userId)).length, before, 'records nothing')
  })

  await t.test('a session ended by its user, and logout-all', async t => {
    const u = await signedInUser(ctx)
    const other = cookieOf(await inject(ctx, 'POST', '/login', { email: u.email, password: PASSWORD }))!
    const sessions = (await inject(ctx, 'GET', '/sessions', undefined, u.cookie)).json().sessions as Array<{ id: string, current: boolean }>
    const target = sessions.find(s => !s.current)!
    t.equal((await inject(ctx, 'DELETE', `/sessions/${target.id}`, undefined, u.cookie)).statusCode, 204)
    t.match(await lastEvent(ctx, u.userId, 'session.ended'), { data: { by: 'user' } })
    t.equal((await inject(ctx, 'GET', '/me', undefined, other)).statusCode, 401)
    await inject(ctx, 'POST', '/login', { email: u.email, password: PASSWORD })
    t.equal((await inject(ctx, 'POST', '/logout-all', {}, u.cookie)).statusCode, 204)
    t.match(await lastEvent(ctx, u.userId, 'session.all_ended'), { data: { by: 'user', ended: 2 } })
  })

  await t.test('a password change and a password reset', async t => {
    const u = await signedInUser(ctx)
    const change = await inject(ctx, 'POST', '/password/change', { currentPassword: PASSWORD, newPassword: 'another long password 2' }, u.cookie)
    t.equal(change.statusCode, 200, change.body)
    t.match(await lastEvent(ctx, u.userId, 'password.changed'), { userAgent: UA, data: {} })
    t.equal((await inject(ctx, 'POST', '/password/forgot', { email: u.email })).statusCode, 202)
    const token = await tokenFromOutbox(ctx.outbox, u.email, 'reset-password')
    t.equal((await inject(ctx, 'POST', '/password/reset', { token, password: 'a third long password 3' })).statusCode, 200)
    t.match(await lastEvent(ctx, u.userId, 'password.reset'), { userAgent: UA })
  })

  await t.test('a reused refresh token revokes its family', async t => {
    const u = await signedInUser(ctx)
    const grant = (await inject(ctx, 'POST', '/token', { email: u.email, password: PASSWORD })).json()
    t.equal((await inject(ctx, 'POST', '/token/refresh', { refreshToken: grant.refreshToken })).statusCode, 200)
    t.equal((await inject(ctx, 'POST', '/token/refresh', { refreshToken: grant.refreshToken })).statusCode, 401)
    t.match(await lastEvent(ctx, u.userId, 'token.family_revoked'), { userAgent: UA, data: { reason: 'reuse' } })
  })

  await t.test('the CLI disables and enables an account', async t => {
    const u = await signedInUser(ctx)
    t.equal(await run(['disable', u.email], ctx.app, () => {}), 0)
    t.match(await lastEvent(ctx, u.userId, 'user.disabled'), { data: { by: 'cli' } })
    t.notOk((await lastEvent(ctx, u.userId, 'user.disabled'))?.ip, 'no request, no IP')
    t.equal(await run(['enable', u.email], ctx.app, () => {}), 0)
    t.match(await lastEvent(ctx, u.userId, 'user.enabled'), { data: { by: 'cli' } })
  })
})

t.test('back-off started: once, when the free failures are spent', async t => {
  const ctx = await build(t, { LOGIN_FREE_FAILURES: '3' })
  const u = await signedInUser(ctx)
  for (let i = 0; i < 3; i++) await inject(ctx, 'POST', '/login', { email: u.email, password: 'wrong password' })
  const events = await eventsOf(ctx, u.userId)
  t.equal(events.filter(e => e.type === 'session.sign_in_failed').length, 3)
  t.same(events.filter(e => e.type === 'session.backoff_started').map(e => e.data), [{ failures: 3, device: false }])
  t.equal((await inject(ctx, 'POST', '/login', { email: u.email, password: 'wrong password' })).statusCode, 429, 'the back-off is on')
})

t.test('two-factor actions and a sign-in with a second factor', async t => {
  const ctx = await build(t)
  const u = await enrolledUser(ctx)
  t.match(await lastEvent(ctx, u.userId, 'mfa.enabled'), { data: { method: 'totp' } })
  const codes = await post(ctx, '/2fa/backup-codes', { password: PASSWORD, code: await u.auth.next() }, u.cookie)
  t.equal(codes.statusCode, 200)
  t.ok(await lastEvent(ctx, u.userId, 'mfa.backup_codes_regenerated'))
  for (const e of await eventsOf(ctx, u.userId)) {
    for (const code of codes.json().backupCodes as string[]) t.notOk(JSON.stringify(e).includes(code), 'no backup code in an event')
  }

  const challenge = await post(ctx, '/login', { email: u.email, password: PASSWORD })
  const verify = await post(ctx, '/mfa/verify', { mfaToken: challenge.json().mfaToken, code: await u.auth.next() })
  t.equal(verify.statusCode, 200)
  t.match(await lastEvent(ctx, u.userId, 'session.signed_in'), { data: { method: 'password', kind: 'cookie', mfa: true } })

  const cookie = cookieOf(verify)!
  const off = await post(ctx, '/2fa/disable', { password: PASSWORD, code: await u.auth.next() }, cookie)
  t.equal(off.statusCode, 200, off.body)
  t.match(await lastEvent(ctx, u.userId, 'mfa.disabled'), { data: { method: 'totp' } })
})

t.test('provider sign-up and sign-in, identity linked and unlinked', async t => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('olga', { email: 'olga@example.com', email_verified: true })
  const first = await signInWith(ctx, 'olga')
  const userId = await idOf(ctx, 'olga@example.com')
  t.match(await lastEvent(ctx, userId, 'user.signed_up'), { data: { method: 'provider', provider: 'test' } })
  t.match(await lastEvent(ctx, userId, 'session.signed_in'), { data: { method: 'provider', provider: 'test', kind: 'cookie' } })
  t.ok(cookieOf(first))

  const u = await signedInUser(ctx)
  tp.accounts.set('pete', { email: 'pete@example.org', email_verified: false })
  const start = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/test/link', headers: { cookie: u.cookie, origin: APP }, payload: { returnTo: '/account' } })
  const back = await authorizeAtProvider(start.json().url, 'pete', CALLBACK)
  t.equal((await callback(ctx, back, cookieOf(start, 'oauthFlow')!)).statusCode, 302)
  t.match(await lastEvent(ctx, u.userId, 'identity.linked'), { data: { provider: 'test' } })
  const [identity] = (await ctx.app.inject({ url: '/api/auth/identities', headers: { cookie: u.cookie } })).json().identities
  const del = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}`, headers: { cookie: u.cookie, origin: APP } })
  t.equal(del.statusCode, 204)
  t.match(await lastEvent(ctx, u.userId, 'identity.unlinked'), { data: { provider: 'test' } })
})

t.test('stored payloads hold only the catalogue\'s fields, and no secret of the actions', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const grant = (await inject(ctx, 'POST', '/token', { email: u.email, password: PASSWORD })).json()
  await inject(ctx, 'POST', '/login', { email: u.email, password: 'a wrong password' })
  await inject(ctx, 'POST', '/password/change', { currentPassword: PASSWORD, newPassword: 'another long password 2' }, u.cookie)
  const secrets = [PASSWORD, 'a wrong password', 'another long password 2', grant.accessToken, grant.refreshToken, u.cookie.split('=')[1], u.email]
  const all = [...await eventsOf(ctx, u.userId), ...await globalEvents(ctx)]
  t.ok(all.length >= 8)
  for (const e of all) {
    t.ok(Object.keys(e.data).every(k => EVENT_CATALOGUE[e.type].data.includes(k)), `${e.type}: only catalogued fields`)
    const text = JSON.stringify(e)
    for (const s of secrets) t.notOk(text.includes(s), `${e.type} holds no secret or address`)
  }
})
