import { test } from 'tap'
import { cookieOf, PASSWORD, signedInUser } from '../../helper.js'
import { APP, buildWithProvider, errorOf, signInWith } from '../../oauth/flow-helper.js'

test('a new person with a provider-verified email gets a verified account and the same session as a password login', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'Alice@Example.com', email_verified: true, given_name: 'Alice' })
  const res = await signInWith(ctx, 'alice')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, `${APP}/`)
  const cookie = cookieOf(res)
  t.ok(cookie, 'the session cookie is set')
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] as string[]).find(c => c.startsWith('sessionId='))!
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /SameSite=Strict/)
  t.match(setCookie, /Max-Age=604800/)
  const me = await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: cookie! } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.email, 'alice@example.com')
  t.equal(me.json().user.emailVerified, true)
  t.equal(me.json().user.firstName, 'Alice')

  // The same identity signs in to the same account next time.
  const again = await signInWith(ctx, 'alice')
  const me2 = await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: cookieOf(again)! } })
  t.equal(me2.json().user.id, me.json().user.id)

  // The account has no password: a password login fails like a wrong password.
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 401)
  t.equal(login.json().code, 'INVALID_CREDENTIALS')
})

test('GET /oauth/providers lists the configured providers by id and name', async (t) => {
  const { ctx } = await buildWithProvider(t)
  const res = await ctx.app.inject({ method: 'GET', url: '/api/auth/oauth/providers' })
  t.same(res.json(), { providers: [{ id: 'test', name: 'Test OP' }] })
})

test('a verified email of an existing account is not linked and does not sign in as that account', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const owner = await signedInUser(ctx)
  tp.accounts.set('mallory', { email: owner.email, email_verified: true })
  const res = await signInWith(ctx, 'mallory')
  t.equal(errorOf(res), 'OAUTH_LINK_REQUIRED')
  t.notOk(cookieOf(res), 'no session')
})

test('a page on another origin gets a one-time sign-in token in the fragment, redeemed for the session', async (t) => {
  const { ctx, tp } = await buildWithProvider(t, { CORS_ORIGINS: 'https://spa.example.com' })
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const res = await signInWith(ctx, 'alice', `?returnTo=${encodeURIComponent('https://spa.example.com/app')}`)
  t.equal(res.statusCode, 302)
  t.notOk(cookieOf(res), 'no cookie from the callback: it would land in the wrong partition')
  const location = new URL(res.headers.location as string)
  t.equal(location.origin + location.pathname, 'https://spa.example.com/app')
  const signInToken = new URLSearchParams(location.hash.slice(1)).get('signInToken')
  t.ok(signInToken)
  const complete = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/complete', headers: { origin: 'https://spa.example.com' }, payload: { signInToken } })
  t.equal(complete.statusCode, 200, complete.body)
  t.equal(complete.json().message, 'Login successful')
  t.equal(complete.json().user.email, 'alice@example.com')
  t.ok(cookieOf(complete), 'the session cookie comes with the page\'s own request')
  const again = await ctx.app.inject({ method: 'POST', url: '/api/auth/oauth/complete', payload: { signInToken } })
  t.equal(again.statusCode, 400)
  t.equal(again.json().code, 'INVALID_TOKEN')
})
