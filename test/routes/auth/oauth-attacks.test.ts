import { test, type Test } from 'tap'
import type { TestContext } from '../../helper.js'
import { cookieOf, signedInUser } from '../../helper.js'
import { APP, CALLBACK, buildWithProvider, callback, start } from '../../oauth/flow-helper.js'
import { authorizeAtProvider, idTokenFor } from '../../oauth/provider.js'

async function flowKeys (ctx: TestContext): Promise<string[]> {
  return await ctx.redis.keys(`${ctx.config.redisKeyPrefix}oauth:flow:*`)
}

async function userCount (ctx: TestContext): Promise<number> {
  return await ctx.redis.scard(`${ctx.config.redisKeyPrefix}users`)
}

/** A callback answer that signs no one in and redirects to returnTo with `code`. */
function refused (t: Test, res: { statusCode: number, headers: Record<string, unknown> }, code: string): void {
  t.equal(res.statusCode, 302)
  const location = new URL(res.headers.location as string)
  t.equal(location.origin, APP, 'back to the application, never elsewhere')
  t.equal(location.searchParams.get('error'), code)
  t.notOk(String(res.headers['set-cookie'] ?? '').includes('sessionId='), 'no session cookie')
}

test('a wrong state and a replayed state are refused', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)

  const wrong = new URL(back)
  wrong.searchParams.set('state', 'x'.repeat(43))
  refused(t, await callback(ctx, wrong, s.flowCookie), 'OAUTH_STATE_INVALID')
  t.equal(await userCount(ctx), 0, 'no account was created')

  const first = await callback(ctx, back, s.flowCookie)
  t.ok(cookieOf(first), 'the real callback signs in')
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_STATE_INVALID')
  t.same(await flowKeys(ctx), [], 'the flow is spent')
})

test('a callback in a browser that did not start the flow (login CSRF) is refused, and spends the flow', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('attacker', { email: 'attacker@example.com', email_verified: true })
  const s = await start(ctx)
  const back = await authorizeAtProvider(s.location.href, 'attacker', CALLBACK)
  // The victim's browser has no binding cookie, or one of its own flows.
  refused(t, await callback(ctx, back, ''), 'OAUTH_STATE_INVALID')
  const victim = await start(ctx)
  refused(t, await callback(ctx, back, victim.flowCookie), 'OAUTH_STATE_INVALID')
  // Nor can the attacker finish it after the victim's attempt spent it.
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_STATE_INVALID')
  t.equal(await userCount(ctx), 0)
})

test('an ID token with a wrong nonce is refused', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  t.equal(s.location.searchParams.get('code_challenge_method'), 'S256')
  t.ok(s.location.searchParams.get('nonce'))
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)
  const forged = await idTokenFor(tp, { client: tp.clients.main, login: 'alice', nonce: 'another-nonce', redirectUri: CALLBACK })
  tp.tamperToken = body => ({ ...body, id_token: forged })
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_TOKEN_INVALID')
  t.equal(await userCount(ctx), 0)
})

test('an ID token issued to another client is refused', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)
  // Same provider, same person, same nonce: only the audience is another client's.
  const forged = await idTokenFor(tp, { client: tp.clients.other, login: 'alice', nonce: s.location.searchParams.get('nonce')!, redirectUri: CALLBACK })
  tp.tamperToken = body => ({ ...body, id_token: forged })
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_TOKEN_INVALID')
  t.equal(await userCount(ctx), 0)

  // The same substitution with a token of this client would pass: the audience is what failed.
  tp.tamperToken = undefined
  const s2 = await start(ctx)
  const back2 = await authorizeAtProvider(s2.location.href, 'alice', CALLBACK)
  const genuine = await idTokenFor(tp, { client: tp.clients.main, login: 'alice', nonce: s2.location.searchParams.get('nonce')!, redirectUri: CALLBACK })
  tp.tamperToken = body => ({ ...body, id_token: genuine })
  t.ok(cookieOf(await callback(ctx, back2, s2.flowCookie)), 'control: a token of this client signs in')
})

test('a code obtained without the flow\'s PKCE challenge, and a flow without a verifier, are refused', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  // An injected code: the flow's state and nonce, but no code_challenge.
  const injected = new URL(s.location)
  injected.searchParams.delete('code_challenge')
  injected.searchParams.delete('code_challenge_method')
  const back = await authorizeAtProvider(injected.href, 'alice', CALLBACK)
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_TOKEN_INVALID')

  const s2 = await start(ctx)
  const back2 = await authorizeAtProvider(s2.location.href, 'alice', CALLBACK)
  const key = ctx.app.oauth.flows.key(s2.location.searchParams.get('state')!)
  const flow = JSON.parse((await ctx.redis.get(key))!) as Record<string, unknown>
  delete flow.codeVerifier
  await ctx.redis.set(key, JSON.stringify(flow), 'EX', 60)
  refused(t, await callback(ctx, back2, s2.flowCookie), 'OAUTH_STATE_INVALID')
  t.equal(await userCount(ctx), 0)
})

test('an expired flow is refused; a flow lives OAUTH_FLOW_TTL seconds', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  const key = ctx.app.oauth.flows.key(s.location.searchParams.get('state')!)
  const ttl = await ctx.redis.ttl(key)
  t.ok(ttl > 590 && ttl <= 600, `ten minutes (${ttl} s)`)
  const flowCookie = ([] as string[]).concat(s.res.headers['set-cookie'] as string[]).find(c => c.startsWith('oauthFlow='))!
  t.match(flowCookie, /HttpOnly/)
  t.match(flowCookie, /SameSite=Lax/)
  t.match(flowCookie, /Path=\/api\/auth\/oauth/)
  t.match(flowCookie, /Max-Age=600/)
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)
  await ctx.redis.pexpire(key, 1)
  await new Promise(resolve => setTimeout(resolve, 20))
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_STATE_INVALID')
})

test('an unverified email matching an account neither links nor signs in as it; unmatched, it creates nothing', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const owner = await signedInUser(ctx)
  tp.accounts.set('mallory', { email: owner.email, email_verified: false })
  tp.accounts.set('nobody', { email: 'nobody@example.com', email_verified: false })
  tp.accounts.set('noemail', {})
  const before = await userCount(ctx)
  for (const login of ['mallory', 'nobody', 'noemail']) {
    const s = await start(ctx)
    const back = await authorizeAtProvider(s.location.href, login, CALLBACK)
    refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_EMAIL_UNVERIFIED')
  }
  t.equal(await userCount(ctx), before, 'no account created')
  t.same(await ctx.redis.keys(`${ctx.config.redisKeyPrefix}oauth:identity:*`), [], 'nothing linked')
})

test('returnTo must be a path or an allowed origin: never an open redirect', async (t) => {
  const { ctx } = await buildWithProvider(t, { CORS_ORIGINS: 'https://spa.example.com' })
  for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/\tevil', 'javascript:alert(1)', 'http://localhost:3000.evil.example/', 'https://user@spa.example.com/', 'evil.example']) {
    const res = await ctx.app.inject({ method: 'GET', url: `/api/auth/oauth/test/start?returnTo=${encodeURIComponent(bad)}` })
    t.equal(res.statusCode, 400, `${bad} refused`)
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  t.same(await flowKeys(ctx), [], 'nothing stored for a refused start')
  const spa = await start(ctx, `?returnTo=${encodeURIComponent('https://spa.example.com/after?x=1')}`)
  const flow = JSON.parse((await ctx.redis.get(ctx.app.oauth.flows.key(spa.location.searchParams.get('state')!)))!)
  t.equal(flow.returnTo, 'https://spa.example.com/after?x=1')
  const path = await start(ctx, '?returnTo=/account%23x')
  t.equal(JSON.parse((await ctx.redis.get(ctx.app.oauth.flows.key(path.location.searchParams.get('state')!)))!).returnTo, `${APP}/account`)
})

test('an unreachable provider gives a clear error and stores nothing', async (t) => {
  const { ctx, tp } = await buildWithProvider(t, {}, tp => [tp.entry(), { id: 'down', issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y', local: true }])
  const res = await ctx.app.inject({ method: 'GET', url: '/api/auth/oauth/down/start?returnTo=/' })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, `${APP}/?error=OAUTH_PROVIDER_UNAVAILABLE`)
  t.same(await flowKeys(ctx), [])

  // Reachable at the start, gone when the code is redeemed.
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)
  await tp.close()
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_PROVIDER_UNAVAILABLE')
  t.equal(await userCount(ctx), 0)
  t.same(await flowKeys(ctx), [])
})

test('a refusal at the provider comes back as OAUTH_ACCESS_DENIED, never the provider\'s text', async (t) => {
  const { ctx, tp } = await buildWithProvider(t)
  const s = await start(ctx)
  const back = new URL(CALLBACK)
  back.search = new URLSearchParams({ error: 'access_denied', error_description: '<script>alert(1)</script>', state: s.location.searchParams.get('state')!, iss: tp.issuer }).toString()
  const res = await callback(ctx, back, s.flowCookie)
  refused(t, res, 'OAUTH_ACCESS_DENIED')
  t.notMatch(res.headers.location, /script/)
})

test('with OAUTH_AUTO_CREATE=false a new identity creates no account', async (t) => {
  const { ctx, tp } = await buildWithProvider(t, { OAUTH_AUTO_CREATE: 'false' })
  tp.accounts.set('alice', { email: 'alice@example.com', email_verified: true })
  const s = await start(ctx)
  const back = await authorizeAtProvider(s.location.href, 'alice', CALLBACK)
  refused(t, await callback(ctx, back, s.flowCookie), 'OAUTH_SIGNUP_DISABLED')
  t.equal(await userCount(ctx), 0)
})

test('an unknown provider is a 404', async (t) => {
  const { ctx } = await buildWithProvider(t)
  const res = await ctx.app.inject({ method: 'GET', url: '/api/auth/oauth/nope/start' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
})
