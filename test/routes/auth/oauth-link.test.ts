import { test } from 'tap'
import { cookieOf, outboxMessages, PASSWORD, signedInUser, tokenFromOutbox, type TestContext } from '../../helper.js'
import { enrolledUser } from '../../support/mfa.js'
import { APP, CALLBACK, buildWithProvider, callback, errorOf, signInWith } from '../../oauth/flow-helper.js'
import { authorizeAtProvider } from '../../oauth/provider.js'

/** POST /oauth/test/link as the signed-in `cookie`, through the provider as `login`; the callback's answer. */
async function link (ctx: TestContext, cookie: string, login: string): Promise<ReturnType<typeof callback>> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/test/link', headers: { cookie, origin: APP }, payload: { returnTo: '/account' } })
  if (res.statusCode !== 200) throw new Error(`link answered ${res.statusCode}: ${res.body}`)
  const back = await authorizeAtProvider(res.json().url, login, CALLBACK)
  // The return from the provider is cross-site: the Strict session cookie is not sent, only the binding cookie.
  return await callback(ctx, back, cookieOf(res, 'oauthFlow')!)
}

async function identities (ctx: TestContext, cookie: string): Promise<Array<{ id: string, provider: string, email: string | null, linkedAt: string }>> {
  const res = await ctx.app.inject({ method: 'GET', url: '/api/auth/identities', headers: { cookie } })
  if (res.statusCode !== 200) throw new Error(`identities answered ${res.statusCode}: ${res.body}`)
  return res.json().identities
}

test('a signed-in user links an identity (any email), is mailed about it, and can then sign in with it', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const u = await signedInUser(ctx)
  tp.accounts.set('bob', { email: 'bob.elsewhere@example.org', email_verified: false })
  const res = await link(ctx, u.cookie, 'bob')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, `${APP}/account?linked=test`)
  const list = await identities(ctx, u.cookie)
  t.equal(list.length, 1)
  t.match(list[0], { provider: 'test', email: 'bob.elsewhere@example.org' })
  const mails = await outboxMessages(ctx.outbox, u.email)
  t.ok(mails.some(m => /Test OP sign-in was linked/.test(m.subject)), 'the account is told about the link')

  const signIn = await signInWith(ctx, 'bob')
  const me = await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: cookieOf(signIn)! } })
  t.equal(me.json().user.email, u.email, 'the linked identity signs in to the account')
})

test('linking needs a session, passes the CSRF check, and an identity links to one account only', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const noSession = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/test/link', payload: {} })
  t.equal(noSession.statusCode, 401)
  const a = await signedInUser(ctx)
  const foreign = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/test/link', headers: { cookie: a.cookie, origin: 'https://evil.example' }, payload: {} })
  t.equal(foreign.statusCode, 403)
  t.equal(foreign.json().code, 'CSRF_REJECTED')

  tp.accounts.set('shared', { email: 'shared@example.com', email_verified: true })
  t.equal((await link(ctx, a.cookie, 'shared')).headers.location, `${APP}/account?linked=test`)
  const b = await signedInUser(ctx)
  const res = await link(ctx, b.cookie, 'shared')
  t.equal(errorOf(res), 'OAUTH_IDENTITY_TAKEN')
  t.same(await identities(ctx, b.cookie), [])
  t.equal((await identities(ctx, a.cookie)).length, 1)
})

test('unlinking: 204, the identity no longer signs in; the last way to sign in cannot be removed', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const u = await signedInUser(ctx)
  tp.accounts.set('bob', { email: 'bob@example.org', email_verified: false })
  await link(ctx, u.cookie, 'bob')
  const [identity] = await identities(ctx, u.cookie)
  const del = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}`, headers: { cookie: u.cookie, origin: APP } })
  t.equal(del.statusCode, 204)
  t.same(await identities(ctx, u.cookie), [])
  t.equal(errorOf(await signInWith(ctx, 'bob')), 'OAUTH_EMAIL_UNVERIFIED', 'an unlinked identity is a stranger again')
  const again = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${identity.id}`, headers: { cookie: u.cookie, origin: APP } })
  t.equal(again.statusCode, 404)

  // An account made by a provider has no password: its only identity stays.
  tp.accounts.set('carol', { email: 'carol@example.com', email_verified: true })
  const carol = cookieOf(await signInWith(ctx, 'carol'))!
  const [only] = await identities(ctx, carol)
  const refused = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${only.id}`, headers: { cookie: carol, origin: APP } })
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'LAST_SIGN_IN_METHOD')
  // With a second identity, either may go, but not both (even at once).
  tp.accounts.set('carol2', { email: 'carol@elsewhere.example', email_verified: true })
  await link(ctx, carol, 'carol2')
  const both = await identities(ctx, carol)
  t.equal(both.length, 2)
  const answers = await Promise.all(both.map(async i => await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${i.id}`, headers: { cookie: carol, origin: APP } })))
  t.same(answers.map(r => r.statusCode).sort(), [204, 409])
  t.equal((await identities(ctx, carol)).length, 1)
})

test('with 2FA on, the callback sets no session and hands the page an MFA challenge in the fragment', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const u = await enrolledUser(ctx)
  tp.accounts.set('dave', { email: 'dave@example.org', email_verified: true })
  await link(ctx, u.cookie, 'dave')
  const res = await signInWith(ctx, 'dave', '?returnTo=/welcome')
  t.equal(res.statusCode, 302)
  t.notOk(cookieOf(res), 'no session yet')
  const location = new URL(res.headers.location as string)
  t.equal(location.origin + location.pathname, `${APP}/welcome`)
  const mfaToken = new URLSearchParams(location.hash.slice(1)).get('mfaToken')
  t.ok(mfaToken)
  const verify = await ctx.app.inject({ method: 'POST', url: '/api/auth/mfa/verify', payload: { mfaToken, code: await u.auth.next() } })
  t.equal(verify.statusCode, 200, verify.body)
  t.equal(verify.json().user.email, u.email)
  t.ok(cookieOf(verify))
})

test('a disabled account does not sign in through its identity', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('erin', { email: 'erin@example.com', email_verified: true })
  const first = await signInWith(ctx, 'erin')
  const me = await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: cookieOf(first)! } })
  await ctx.app.users.update(me.json().user.id, { disabled: true })
  t.equal(errorOf(await signInWith(ctx, 'erin')), 'ACCOUNT_DISABLED')
})

test('a password login to an account without a password costs the same Argon2 work as a wrong password', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('frank', { email: 'frank@example.com', email_verified: true })
  await signInWith(ctx, 'frank')
  const withPassword = await signedInUser(ctx)
  const time = async (email: string): Promise<number> => {
    const t0 = process.hrtime.bigint()
    const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: `${PASSWORD}x` } })
    if (res.statusCode !== 401) throw new Error(res.body)
    return Number(process.hrtime.bigint() - t0) / 1e6
  }
  const a: number[] = []
  const b: number[] = []
  const c: number[] = []
  for (let i = 0; i < 10; i++) {
    a.push(await time('frank@example.com'))
    b.push(await time(withPassword.email))
    c.push(await time(`unknown.${i}@example.com`))
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]
  t.comment(`median ms: no password ${median(a).toFixed(1)}, wrong password ${median(b).toFixed(1)}, unknown account ${median(c).toFixed(1)}`)
  // Without the dummy hash the empty one fails in microseconds (argon2 refuses to parse it).
  t.ok(median(a) > median(c) * 0.6, 'no fast path for an account without a password')
})

test('an account made by a provider gets a password through the reset mail, and may then unlink its identity', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('gina', { email: 'gina@example.com', email_verified: true })
  const cookie = cookieOf(await signInWith(ctx, 'gina'))!
  const forgot = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/forgot', payload: { email: 'gina@example.com' } })
  t.equal(forgot.statusCode, 202)
  const token = await tokenFromOutbox(ctx.outbox, 'gina@example.com', 'reset-password')
  const reset = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/reset', payload: { token, password: PASSWORD } })
  t.equal(reset.statusCode, 200)
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'gina@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const fresh = cookieOf(login)!
  t.ok(cookie)
  const [only] = await identities(ctx, fresh)
  const del = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/identities/${only.id}`, headers: { cookie: fresh, origin: APP } })
  t.equal(del.statusCode, 204)
})

test('a link URL opened in someone else\'s browser links nothing (no identity planted in the attacker\'s account)', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const attacker = await signedInUser(ctx)
  tp.accounts.set('victim', { email: 'victim@example.com', email_verified: true })
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/test/link', headers: { cookie: attacker.cookie, origin: APP }, payload: {} })
  // The victim follows the attacker's link and signs in at the provider as themselves.
  const back = await authorizeAtProvider(res.json().url, 'victim', CALLBACK)
  const victimBrowser = await ctx.app.inject({ method: 'GET', url: '/api/auth/oauth/providers' })
  t.equal(errorOf(await callback(ctx, back, cookieOf(victimBrowser, 'oauthFlow') ?? '')), 'OAUTH_STATE_INVALID')
  t.same(await identities(ctx, attacker.cookie), [], 'nothing linked to the attacker')
  t.equal(await ctx.app.oauth.identities.userOf(tp.issuer, 'victim'), null)
})
