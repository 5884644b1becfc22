import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build, cookieOf, logIn, PASSWORD, signedInUser, type SignedIn, type TestContext } from '../../helper.js'
import { assertProblem, dumpRedis, enrolledUser, KEY, login, me, post } from '../../support/mfa.js'
import { SoftAuthenticator, TEST_ORIGIN, type CeremonyOptions } from '../../support/passkey.js'
import { decodeSession, encodeSession } from '../../../src/sessions/record.js'
import type { SecurityEvent } from '../../../src/events/catalogue.js'

async function call (ctx: TestContext, method: 'GET' | 'PATCH' | 'DELETE', url: string, cookie: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return await ctx.app.inject({ method, url: `/api/auth${url}`, headers: { cookie }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
}

/** A problem answer to a GET, PATCH or DELETE (assertProblem knows POSTs' cookies only). */
function assertCode (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, res.body)
  t.equal(res.json().code, code)
}

async function addPasskey (ctx: TestContext, u: { cookie: string }, auth = new SoftAuthenticator(), name?: string): Promise<{ auth: SoftAuthenticator, passkey: any }> {
  const options = await post(ctx, '/passkeys/register/options', {}, u.cookie)
  if (options.statusCode !== 200) throw new Error(`options answered ${options.statusCode}: ${options.body}`)
  const res = await post(ctx, '/passkeys/register/verify', { response: auth.register(options.json()), ...(name === undefined ? {} : { name }) }, u.cookie)
  if (res.statusCode !== 201) throw new Error(`verify answered ${res.statusCode}: ${res.body}`)
  return { auth, passkey: res.json() }
}

async function signInWith (ctx: TestContext, auth: SoftAuthenticator, extra: Record<string, unknown> = {}, lie: CeremonyOptions = {}): Promise<LightMyRequestResponse> {
  const start = (await post(ctx, '/passkeys/login/options', undefined)).json()
  return await post(ctx, '/passkeys/login/verify', { challengeId: start.challengeId, response: auth.assert(start.options, lie), ...extra })
}

function events (ctx: TestContext): SecurityEvent[] {
  const seen: SecurityEvent[] = []
  ctx.app.events.addSink(async e => { seen.push(e) })
  return seen
}

async function passkeysOf (ctx: TestContext, userId: string): Promise<Record<string, string>> {
  return await ctx.redis.hgetall(`gh:user:{${userId}}:passkeys`)
}

/** Moves the sign-in of the cookie's session `ms` into the past, as Redis holds it. */
async function ageSession (ctx: TestContext, u: SignedIn, ms: number): Promise<void> {
  for (const key of await ctx.redis.keys('gh:sess:*')) {
    const s = decodeSession(await ctx.redis.get(key) as string, ctx.app.config.sessionAbsoluteTtlMs)
    if (s.userId !== u.userId) continue
    await ctx.redis.set(key, encodeSession({ ...s, createdAt: s.createdAt - ms }), 'KEEPTTL')
  }
}

t.test('register a passkey, sign out, sign in with only the passkey: a session like a password sign-in', async t => {
  const ctx = await build(t)
  const seen = events(ctx)
  const u = await signedInUser(ctx)
  const options = await post(ctx, '/passkeys/register/options', {}, u.cookie)
  t.equal(options.statusCode, 200, options.body)
  const o = options.json()
  t.equal(o.rp.id, 'localhost')
  t.equal(o.rp.name, 'Gatehouse')
  t.equal(o.user.name, u.email)
  t.equal(Buffer.from(o.user.id, 'base64url').toString(), u.userId, 'the user handle names the account')
  t.same(o.authenticatorSelection, { residentKey: 'required', userVerification: 'required', requireResidentKey: true })
  t.notOk((await dumpRedis(ctx)).includes(o.challenge), 'the challenge is stored hashed')
  const auth = new SoftAuthenticator({ aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4' })
  const verified = await post(ctx, '/passkeys/register/verify', { response: auth.register(o) }, u.cookie)
  t.equal(verified.statusCode, 201, verified.body)
  const pk = verified.json()
  t.same(Object.keys(pk).sort(), ['authenticator', 'backedUp', 'createdAt', 'deviceType', 'id', 'lastUsedAt', 'name'])
  t.equal(pk.name, 'Google Password Manager', 'named after its known AAGUID')
  t.equal(pk.authenticator, 'Google Password Manager')
  t.equal(pk.lastUsedAt, null)
  t.same(seen.find(e => e.type === 'passkey.added')?.data, { name: 'Google Password Manager' })

  t.equal((await post(ctx, '/logout', undefined, u.cookie)).statusCode, 204)
  const signedIn = await signInWith(ctx, auth)
  t.equal(signedIn.statusCode, 200, signedIn.body)
  const body = signedIn.json()
  t.same(Object.keys(body).sort(), ['csrfToken', 'message', 'session', 'user'], 'the answer of /login')
  t.equal(body.user.id, u.userId)
  const cookie = cookieOf(signedIn) as string
  t.ok(cookie, 'the session cookie')
  t.ok(cookieOf(signedIn, 'gatehouseDevice'), 'the device cookie, as after a password sign-in')
  t.equal((await me(ctx, cookie)).statusCode, 200)
  const sessions = (await call(ctx, 'GET', '/sessions', cookie)).json().sessions
  t.equal(sessions.find((s: any) => s.current).method, 'passkey', 'the session list shows the method')
  t.match(seen.filter(e => e.type === 'session.signed_in').at(-1), { userId: u.userId, data: { method: 'passkey', kind: 'cookie' } })

  const list = (await call(ctx, 'GET', '/passkeys', cookie)).json().passkeys
  t.equal(list.length, 1)
  t.ok(list[0].lastUsedAt, 'the last use is recorded')
  t.equal(JSON.parse((await passkeysOf(ctx, u.userId))[pk.id]).counter, 1, 'the counter is stored')
  t.equal((await ctx.app.metrics.registry.getSingleMetricAsString('gatehouse_logins_total')).match(/outcome="success"} (\d+)/)?.[1], '2')
})

t.test('with grant "token" the answer is that of /token, and the token family shows the method', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const { auth } = await addPasskey(ctx, u)
  const res = await signInWith(ctx, auth, { grant: 'token' })
  t.equal(res.statusCode, 200, res.body)
  t.same(Object.keys(res.json()).sort(), ['accessToken', 'expiresAt', 'expiresIn', 'refreshToken', 'tokenType'])
  t.notOk(cookieOf(res), 'no cookie')
  const list = await ctx.app.inject({ url: '/api/auth/sessions', headers: { authorization: `Bearer ${res.json().accessToken}` } })
  t.equal(list.json().sessions.find((s: any) => s.current).method, 'passkey')
})

t.test('a challenge works once: a replayed registration or sign-in is refused', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const o = (await post(ctx, '/passkeys/register/options', {}, u.cookie)).json()
  const auth = new SoftAuthenticator()
  const response = auth.register(o)
  t.equal((await post(ctx, '/passkeys/register/verify', { response }, u.cookie)).statusCode, 201)
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response }, u.cookie), 400, 'INVALID_TOKEN')

  const start = (await post(ctx, '/passkeys/login/options', undefined)).json()
  const assertion = auth.assert(start.options)
  t.equal((await post(ctx, '/passkeys/login/verify', { challengeId: start.challengeId, response: assertion })).statusCode, 200)
  assertProblem(t, await post(ctx, '/passkeys/login/verify', { challengeId: start.challengeId, response: assertion }), 400, 'INVALID_TOKEN')
  const other = (await post(ctx, '/passkeys/login/options', undefined)).json()
  assertProblem(t, await post(ctx, '/passkeys/login/verify', { challengeId: other.challengeId, response: assertion }), 401, 'INVALID_CREDENTIALS')
})

t.test('a challenge of another session or another pending sign-in is refused', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const second = await signedInUser(ctx)
  const otherSession = (await logIn(ctx, u.email)).cookie
  const mine = (await post(ctx, '/passkeys/register/options', {}, u.cookie)).json()
  const theirs = (await post(ctx, '/passkeys/register/options', {}, otherSession)).json()
  t.not(mine.challenge, theirs.challenge)
  const auth = new SoftAuthenticator()
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: auth.register(mine) }, otherSession), 400, 'PASSKEY_REJECTED')
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: auth.register(theirs) }, second.cookie), 400, 'INVALID_TOKEN')
  t.same(await passkeysOf(ctx, u.userId), {}, 'nothing stored')
})

t.test('a wrong origin, a wrong RP ID, a missing user verification, a tampered signature are refused', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const bad = async (o: Record<string, unknown>): Promise<LightMyRequestResponse> => {
    const options = (await post(ctx, '/passkeys/register/options', {}, u.cookie)).json()
    return await post(ctx, '/passkeys/register/verify', { response: new SoftAuthenticator().register(options, o) }, u.cookie)
  }
  assertProblem(t, await bad({ origin: 'https://evil.example' }), 400, 'PASSKEY_REJECTED')
  assertProblem(t, await bad({ origin: 'http://127.0.0.1:3000' }), 400, 'PASSKEY_REJECTED')
  assertProblem(t, await bad({ rpId: 'evil.example' }), 400, 'PASSKEY_REJECTED')
  assertProblem(t, await bad({ uv: false }), 400, 'PASSKEY_REJECTED')
  assertProblem(t, await bad({ type: 'webauthn.get' }), 400, 'PASSKEY_REJECTED')
  t.same(await passkeysOf(ctx, u.userId), {}, 'nothing stored')

  const { auth, passkey } = await addPasskey(ctx, u)
  const before = await passkeysOf(ctx, u.userId)
  const badSignIn = async (o: Record<string, unknown>, tamper?: (r: any) => void): Promise<LightMyRequestResponse> => {
    const start = (await post(ctx, '/passkeys/login/options', undefined)).json()
    const response = auth.assert(start.options, o)
    tamper?.(response)
    return await post(ctx, '/passkeys/login/verify', { challengeId: start.challengeId, response })
  }
  assertProblem(t, await badSignIn({ origin: 'https://evil.example' }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await badSignIn({ rpId: 'evil.example' }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await badSignIn({ uv: false }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await badSignIn({}, r => {
    const sig = Buffer.from(r.response.signature, 'base64url')
    sig[sig.length - 1] ^= 1
    r.response.signature = sig.toString('base64url')
  }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await badSignIn({}, r => { r.response.userHandle = Buffer.from('not-a-user').toString('base64url') }), 401, 'INVALID_CREDENTIALS')
  t.same(await passkeysOf(ctx, u.userId), before, 'no counter or time recorded')
  t.equal(JSON.parse(before[passkey.id]).counter, 0)
})

t.test('a counter that goes back is refused and logged; a passkey that keeps no counter works', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const { auth, passkey } = await addPasskey(ctx, u)
  auth.counter = 10
  t.equal((await signInWith(ctx, auth)).statusCode, 200)
  assertProblem(t, await signInWith(ctx, auth, {}, { counter: 5 }), 401, 'INVALID_CREDENTIALS')
  assertProblem(t, await signInWith(ctx, auth, {}, { counter: 11 }), 401, 'INVALID_CREDENTIALS')
  t.equal(JSON.parse((await passkeysOf(ctx, u.userId))[passkey.id]).counter, 11, 'the counter stays where it was')

  const synced = new SoftAuthenticator({ countless: true })
  await addPasskey(ctx, u, synced)
  t.equal((await signInWith(ctx, synced)).statusCode, 200)
  t.equal((await signInWith(ctx, synced)).statusCode, 200, 'a counter of 0 each time is not a clone')
  const listed = (await call(ctx, 'GET', '/passkeys', u.cookie)).json().passkeys
  t.match(listed[1], { deviceType: 'multiDevice', backedUp: true, authenticator: null, name: 'Passkey' })
})

t.test('malformed and oversized attestations are refused with a clear 4xx, nothing stored', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const good = async (): Promise<any> => new SoftAuthenticator().register((await post(ctx, '/passkeys/register/options', {}, u.cookie)).json())
  const r1 = await good()
  r1.response.attestationObject = Buffer.from('not cbor at all').toString('base64url')
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r1 }, u.cookie), 400, 'PASSKEY_REJECTED')
  const r2 = await good()
  r2.response.clientDataJSON = Buffer.from('{"type":').toString('base64url')
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r2 }, u.cookie), 400, 'PASSKEY_REJECTED')
  const r3 = await good()
  r3.response.attestationObject = 'A'.repeat(9000)
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r3 }, u.cookie), 400, 'VALIDATION_FAILED')
  const r4 = await good()
  r4.response.attestationObject = 'A'.repeat(20000)
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r4 }, u.cookie), 413, 'PAYLOAD_TOO_LARGE')
  const r5 = await good()
  r5.response.attestationObject = 'not base64url!'
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r5 }, u.cookie), 400, 'VALIDATION_FAILED')
  for (const body of [{}, { response: 'x' }, { response: r1, extra: 1 }, { response: { ...r1, type: 'password' } }, { response: r1, name: 5 }, { response: r1, name: '' }, { response: r1, name: 'x'.repeat(65) }]) {
    assertProblem(t, await post(ctx, '/passkeys/register/verify', body, u.cookie), 400, 'VALIDATION_FAILED')
  }
  const r6 = await good()
  assertProblem(t, await post(ctx, '/passkeys/register/verify', { response: r6, name: 'my\u202Ekey' }, u.cookie), 400, 'VALIDATION_FAILED')
  t.same(await passkeysOf(ctx, u.userId), {}, 'nothing stored')
  for (const body of [{}, { challengeId: 'x', response: {} }, { challengeId: 'a'.repeat(43), response: { id: 'x' } }]) {
    assertProblem(t, await post(ctx, '/passkeys/login/verify', body), 400, 'VALIDATION_FAILED')
  }
  const unknown = await post(ctx, '/passkeys/login/verify', { challengeId: 'a'.repeat(43), response: new SoftAuthenticator().assert({ challenge: 'abc' }) })
  assertProblem(t, unknown, 400, 'INVALID_TOKEN')
})

t.test('rename and delete; a deleted passkey no longer signs in; the last way to sign in stays', async t => {
  const ctx = await build(t)
  const seen = events(ctx)
  const u = await signedInUser(ctx)
  const a = await addPasskey(ctx, u, undefined, '  Laptop  ')
  t.equal(a.passkey.name, 'Laptop', 'trimmed')
  const b = await addPasskey(ctx, u)
  const renamed = await call(ctx, 'PATCH', `/passkeys/${b.passkey.id}`, u.cookie, { name: 'Phone ✓' })
  t.equal(renamed.statusCode, 200, renamed.body)
  t.equal(renamed.json().name, 'Phone ✓')
  assertCode(t, await call(ctx, 'PATCH', `/passkeys/${b.passkey.id}`, u.cookie, { name: 'a\u0000b' }), 400, 'VALIDATION_FAILED')
  assertCode(t, await call(ctx, 'PATCH', '/passkeys/00000000-0000-4000-8000-000000000000', u.cookie, { name: 'x' }), 404, 'NOT_FOUND')
  assertCode(t, await call(ctx, 'PATCH', '/passkeys/not-a-uuid', u.cookie, { name: 'x' }), 400, 'VALIDATION_FAILED')

  t.equal((await call(ctx, 'DELETE', `/passkeys/${a.passkey.id}`, u.cookie)).statusCode, 204)
  t.match(seen.find(e => e.type === 'passkey.removed'), { userId: u.userId, data: { name: 'Laptop' } })
  assertCode(t, await call(ctx, 'DELETE', `/passkeys/${a.passkey.id}`, u.cookie), 404, 'NOT_FOUND')
  assertProblem(t, await signInWith(ctx, a.auth), 401, 'INVALID_CREDENTIALS')
  t.equal((await signInWith(ctx, b.auth)).statusCode, 200)

  // An account made by a provider has no password: its last passkey stays.
  const other = await signedInUser(ctx)
  const c = await addPasskey(ctx, other)
  const d = await addPasskey(ctx, other)
  await ctx.redis.hset(`gh:user:{${other.userId}}`, 'passwordHash', '')
  const both = await Promise.all([c, d].map(async x => await call(ctx, 'DELETE', `/passkeys/${x.passkey.id}`, other.cookie)))
  t.same(both.map(r => r.statusCode).sort(), [204, 409], 'two deletions at once leave one')
  t.equal(Object.keys(await passkeysOf(ctx, other.userId)).length, 1)
  const last = both[0].statusCode === 409 ? c : d
  assertCode(t, await call(ctx, 'DELETE', `/passkeys/${last.passkey.id}`, other.cookie), 409, 'LAST_SIGN_IN_METHOD')
})

t.test('a sign-in older than 10 minutes confirms the password before adding a passkey', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  await ageSession(ctx, u, 11 * 60_000)
  assertProblem(t, await post(ctx, '/passkeys/register/options', {}, u.cookie), 403, 'REAUTHENTICATION_REQUIRED')
  assertProblem(t, await post(ctx, '/passkeys/register/options', { password: 'not it' }, u.cookie), 401, 'INVALID_CREDENTIALS')
  const ok = await post(ctx, '/passkeys/register/options', { password: PASSWORD }, u.cookie)
  t.equal(ok.statusCode, 200)
  t.equal((await post(ctx, '/passkeys/register/verify', { response: new SoftAuthenticator().register(ok.json()) }, u.cookie)).statusCode, 201)
  await ctx.redis.hset(`gh:user:{${u.userId}}`, 'passwordHash', '')
  const noPassword = await post(ctx, '/passkeys/register/options', { password: PASSWORD }, u.cookie)
  assertProblem(t, noPassword, 403, 'REAUTHENTICATION_REQUIRED')
  t.match(noPassword.json().detail, /sign in again/)
})

t.test('a passkey answers the 2FA challenge next to TOTP and backup codes', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)
  t.same((await login(ctx, e.email)).json().mfaMethods, ['totp', 'backup_code'], 'no passkey, not offered')
  const { auth } = await addPasskey(ctx, e)
  const challenge = (await login(ctx, e.email)).json()
  t.same(challenge.mfaMethods, ['totp', 'backup_code', 'passkey'])
  const options = await post(ctx, '/passkeys/mfa/options', { mfaToken: challenge.mfaToken })
  t.equal(options.statusCode, 200, options.body)
  t.equal(options.json().allowCredentials[0].id, auth.id, 'the account\'s own passkeys')
  const stranger = new SoftAuthenticator()
  stranger.userHandle = auth.userHandle
  assertProblem(t, await post(ctx, '/passkeys/mfa/verify', { mfaToken: challenge.mfaToken, response: stranger.assert(options.json()) }), 401, 'INVALID_MFA_CODE')
  const again = (await post(ctx, '/passkeys/mfa/options', { mfaToken: challenge.mfaToken })).json()
  const res = await post(ctx, '/passkeys/mfa/verify', { mfaToken: challenge.mfaToken, response: auth.assert(again) })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().user.id, e.userId)
  t.ok(cookieOf(res))
  assertProblem(t, await post(ctx, '/passkeys/mfa/options', { mfaToken: challenge.mfaToken }), 400, 'INVALID_TOKEN')

  const token = (await post(ctx, '/token', { email: e.email, password: PASSWORD })).json()
  const tokenOptions = (await post(ctx, '/passkeys/mfa/options', { mfaToken: token.mfaToken })).json()
  const grant = await post(ctx, '/passkeys/mfa/verify', { mfaToken: token.mfaToken, response: auth.assert(tokenOptions) })
  t.ok(grant.json().accessToken, 'a challenge from /token completes with tokens')
  // Without a passkey challenge first, the answer spends an attempt and fails.
  const third = (await login(ctx, e.email)).json()
  assertProblem(t, await post(ctx, '/passkeys/mfa/verify', { mfaToken: third.mfaToken, response: auth.assert(again) }), 401, 'INVALID_MFA_CODE')
})

t.test('many sign-ins in flight with one challenge: exactly one session', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const { auth } = await addPasskey(ctx, u)
  const start = (await post(ctx, '/passkeys/login/options', undefined)).json()
  const response = auth.assert(start.options)
  const all = await Promise.all(Array.from({ length: 20 }, async () => await post(ctx, '/passkeys/login/verify', { challengeId: start.challengeId, response })))
  t.equal(all.filter(r => r.statusCode === 200).length, 1)
  t.equal(all.filter(r => r.statusCode === 400 && r.json().code === 'INVALID_TOKEN').length, 19)
})

t.test('failed passkey sign-ins count against the account\'s back-off; a disabled account is refused', async t => {
  const ctx = await build(t, { LOGIN_FREE_FAILURES: '2', LOGIN_BACKOFF_BASE: '60' })
  const seen = events(ctx)
  const u = await signedInUser(ctx)
  const { auth } = await addPasskey(ctx, u)
  for (let i = 0; i < 2; i++) assertProblem(t, await signInWith(ctx, auth, {}, { origin: 'https://evil.example' }), 401, 'INVALID_CREDENTIALS')
  t.same(seen.filter(e => e.type === 'session.sign_in_failed').map(e => [e.userId, e.data]), [[u.userId, { method: 'passkey', failures: 1 }], [u.userId, { method: 'passkey', failures: 2 }]])
  t.same(seen.filter(e => e.type === 'session.backoff_started').map(e => [e.userId, e.data]), [[u.userId, { failures: 2, device: false }]], 'the second failure starts the wait, as a password\'s would')
  assertProblem(t, await signInWith(ctx, auth), 429, 'RATE_LIMITED')
  await ctx.redis.del(...await ctx.redis.keys('gh:login-throttle:*'))
  await ctx.redis.hset(`gh:user:{${u.userId}}`, 'disabled', '1')
  assertProblem(t, await signInWith(ctx, auth), 403, 'ACCOUNT_DISABLED')
})

t.test('the passkey routes want a session where they should', async t => {
  const ctx = await build(t)
  for (const [method, url] of [['POST', '/passkeys/register/options'], ['POST', '/passkeys/register/verify'], ['GET', '/passkeys'], ['PATCH', '/passkeys/00000000-0000-4000-8000-000000000000'], ['DELETE', '/passkeys/00000000-0000-4000-8000-000000000000']] as const) {
    const res = await ctx.app.inject({ method, url: `/api/auth${url}`, payload: method === 'GET' || method === 'DELETE' ? undefined : {} })
    t.equal(res.statusCode, 401, `${method} ${url}`)
  }
  assertProblem(t, await post(ctx, '/passkeys/mfa/options', { mfaToken: 'a'.repeat(43) }), 400, 'INVALID_TOKEN')
  t.equal(TEST_ORIGIN, `http://localhost:${ctx.config.port}`)
})
