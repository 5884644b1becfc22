import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createClient, GatehouseError } from '../../client/src/index.js'
import { build, PASSWORD, registerUser, uniqueEmail, verifyUser } from '../helper.js'
import { APP, CALLBACK } from '../oauth/flow-helper.js'
import { authorizeAtProvider, startProvider } from '../oauth/provider.js'

/** The SPA origin of the sign-in-token test: allowed as a returnTo, not this server's origin. */
const SPA = 'http://127.0.0.1:5999'

/**
 * fetch with a cookie jar of several cookies (the session and the OAuth binding cookie), as
 * a browser keeps them; records each request's method, path and CSRF header.
 */
function jarFetch (): { fetch: typeof fetch, cookies: Map<string, string>, sent: Array<{ method: string, path: string, csrf: string | null }> } {
  const cookies = new Map<string, string>()
  const sent: Array<{ method: string, path: string, csrf: string | null }> = []
  return {
    cookies,
    sent,
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers)
      if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '))
      sent.push({ method: init?.method ?? 'GET', path: new URL(String(input)).pathname, csrf: headers.get('x-csrf-token') })
      const res = await fetch(input, { ...init, headers, redirect: 'manual' })
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';')
        const eq = pair.indexOf('=')
        const name = pair.slice(0, eq)
        if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) cookies.delete(name)
        else cookies.set(name, pair.slice(eq + 1))
      }
      return res
    }
  }
}

async function setup (t: Test): Promise<{ tp: Awaited<ReturnType<typeof startProvider>>, ctx: Awaited<ReturnType<typeof build>>, origin: string }> {
  const tp = await startProvider(t, () => [CALLBACK])
  const ctx = await build(t, { COOKIE_SAMESITE: 'None', CORS_ORIGINS: SPA, OAUTH_PROVIDERS: JSON.stringify([tp.entry()]) })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  return { tp, ctx, origin }
}

t.test('the client lists providers, builds the start URL, links, lists and unlinks identities', async t => {
  const { tp, ctx, origin } = await setup(t)
  const { email } = await registerUser(ctx, uniqueEmail('client-oauth'))
  await verifyUser(ctx, email)
  const jar = jarFetch()
  const client = createClient({ baseUrl: origin, fetch: jar.fetch })

  t.same(await client.oauthProviders(), [{ id: 'test', name: 'Test OP' }])
  const startUrl = client.oauthStartUrl('test', '/after')
  t.equal(startUrl, `${origin}/api/auth/oauth/test/start?returnTo=%2Fafter`)
  const started = await jar.fetch(startUrl)
  t.equal(started.status, 302, 'the start URL sends the browser on')
  t.ok(started.headers.get('location')?.startsWith(tp.issuer), 'to the provider')
  t.equal(client.oauthStartUrl('test'), `${origin}/api/auth/oauth/test/start`, 'returnTo is optional')

  await client.login({ email, password: PASSWORD })
  t.same(await client.identities(), [])
  tp.accounts.set('dave', { email: 'dave@provider.example', email_verified: true })
  const { url } = await client.linkIdentity('test', { returnTo: '/account' })
  t.ok(url.startsWith(tp.issuer), 'link answers the provider URL')
  t.ok(jar.sent.find(r => r.path === '/api/auth/oauth/test/link')?.csrf, 'link carried X-CSRF-Token')
  t.ok(jar.cookies.has('oauthFlow'), 'and the binding cookie is kept')

  const back = await authorizeAtProvider(url, 'dave', CALLBACK)
  const done = await jar.fetch(`${origin}${back.pathname}${back.search}`)
  t.equal(done.status, 302)
  t.equal(done.headers.get('location'), `${APP}/account?linked=test`)

  const list = await client.identities()
  t.equal(list.length, 1)
  t.match(list[0], { provider: 'test', email: 'dave@provider.example' })
  const unknown = await client.unlinkIdentity(randomUUID()).catch((err: unknown) => err)
  t.ok(unknown instanceof GatehouseError && unknown.code === 'NOT_FOUND', 'an unknown identity is a typed 404')
  await client.unlinkIdentity(list[0].id)
  t.same(await client.identities(), [], 'unlinked (the account has a password)')
  const missing = await client.linkIdentity('nope').catch((err: unknown) => err)
  t.ok(missing instanceof GatehouseError && missing.code === 'NOT_FOUND', 'an unknown provider is a typed 404')
})

t.test('completeOAuth redeems the sign-in token of a page on another origin for a cookie session', async t => {
  const { tp, origin } = await setup(t)
  tp.accounts.set('erin', { email: 'erin@provider.example', email_verified: true })
  const jar = jarFetch()
  const client = createClient({ baseUrl: origin, fetch: jar.fetch })

  const started = await jar.fetch(client.oauthStartUrl('test', `${SPA}/`))
  const back = await authorizeAtProvider(started.headers.get('location') ?? '', 'erin', CALLBACK)
  const done = await jar.fetch(`${origin}${back.pathname}${back.search}`)
  const location = new URL(done.headers.get('location') ?? '')
  t.equal(location.origin, SPA, 'back to the page')
  const signInToken = new URLSearchParams(location.hash.slice(1)).get('signInToken') ?? ''
  t.notOk(jar.cookies.has('sessionId'), 'no cookie from the callback')

  const signedIn = await client.completeOAuth({ signInToken })
  t.equal(signedIn.user.email, 'erin@provider.example')
  t.equal(client.csrfToken, signedIn.csrfToken, 'the CSRF token is kept, as after login')
  t.equal((await client.me()).user.email, 'erin@provider.example', 'the session cookie works')

  const again = await client.completeOAuth({ signInToken }).catch((err: unknown) => err)
  t.ok(again instanceof GatehouseError && again.code === 'INVALID_TOKEN', 'the token works once')
  const bearer = createClient({ baseUrl: origin, mode: 'bearer' })
  await t.rejects(bearer.completeOAuth({ signInToken }), /cookie mode/, 'bearer mode has no cookie to set')
})
