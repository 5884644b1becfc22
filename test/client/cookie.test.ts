import t from 'tap'
import type { AddressInfo } from 'node:net'
import { createClient, GatehouseError, type SessionEndEvent } from '../../client/src/index.js'
import { buildDemoScript } from '../../src/http/demo-page.js'
import { build, PASSWORD, registerUser, uniqueEmail, verifyUser } from '../helper.js'

/**
 * fetch with a one-cookie jar, as a browser would keep the session cookie for the API
 * (Node's fetch keeps none), recording each request's method, path and CSRF header.
 */
function browserLikeFetch (): { fetch: typeof fetch, sent: Array<{ method: string, path: string, csrf: string | null }> } {
  let cookie: string | undefined
  const sent: Array<{ method: string, path: string, csrf: string | null }> = []
  return {
    sent,
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers)
      if (cookie !== undefined) headers.set('cookie', cookie)
      sent.push({ method: init?.method ?? 'GET', path: new URL(String(input)).pathname, csrf: headers.get('x-csrf-token') })
      const res = await fetch(input, { ...init, headers })
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';')
        cookie = /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c) ? undefined : pair
      }
      return res
    }
  }
}

t.test('cookie mode: the CSRF token of login and /me goes back on every state-changing call', async t => {
  // SameSite=None: the server then refuses a state-changing call without the token.
  const ctx = await build(t, { COOKIE_SAMESITE: 'None' })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const { email } = await registerUser(ctx, uniqueEmail('cookie'))
  await verifyUser(ctx, email)
  const jar = browserLikeFetch()
  const ended: SessionEndEvent[] = []
  const client = createClient({ baseUrl: origin, fetch: jar.fetch, onSessionEnd: e => ended.push(e) })

  const login = await client.login({ email, password: PASSWORD })
  t.equal(login.mfaRequired, false)
  if (login.mfaRequired) return
  t.equal(login.user.email, email)
  t.equal(client.csrfToken, login.csrfToken, 'the token of the login is kept')

  await client.changePassword({ currentPassword: PASSWORD, newPassword: 'a brand new horse battery' })
  t.not(client.csrfToken, login.csrfToken, 'after the password change, the new session\'s token from /me')
  const sessions = await client.sessions()
  t.equal(sessions.filter(s => s.current).length, 1)
  await client.logoutAll()
  t.equal(client.csrfToken, undefined, 'signed out, the token is forgotten')

  for (const r of jar.sent.filter(r => r.method !== 'GET' && r.path !== '/api/auth/login')) {
    t.ok(r.csrf !== null, `${r.method} ${r.path} carried X-CSRF-Token`)
  }
  const me = await client.me().catch((err: unknown) => err)
  t.ok(me instanceof GatehouseError && me.code === 'UNAUTHENTICATED', 'after logout-all /me is a typed 401')
  t.same(ended, [], 'a 401 without a known session is not a session end')
})

t.test('cookie mode: a session ended elsewhere calls onSessionEnd once', async t => {
  const ctx = await build(t)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const { email } = await registerUser(ctx, uniqueEmail('cookie'))
  await verifyUser(ctx, email)
  const ended: SessionEndEvent[] = []
  const browser = createClient({ baseUrl: origin, fetch: browserLikeFetch().fetch, onSessionEnd: e => ended.push(e) })
  const other = createClient({ baseUrl: origin, fetch: browserLikeFetch().fetch })
  await browser.login({ email, password: PASSWORD })
  await other.login({ email, password: PASSWORD })
  await other.logoutAll()

  const err = await browser.sessions().catch((e: unknown) => e)
  t.ok(err instanceof GatehouseError)
  t.equal((err as GatehouseError).code, 'UNAUTHENTICATED')
  t.equal(ended.length, 1)
  t.equal(ended[0]?.request, 'GET /sessions')
  await browser.me().catch(() => {})
  t.equal(ended.length, 1, 'once: the next 401 finds no session to end')
})

t.test('the demo page is built on the client', async t => {
  const script = await buildDemoScript()
  t.match(script, /"GatehouseError"/, 'the client (its error class) is bundled into /app.js')
  t.equal(script.match(/\bfetch\(/g)?.length, 1, 'one fetch call: the client\'s')
})

t.test('cookie mode: sessionPage() pages through the session list and sessions() walks every page', async t => {
  const ctx = await build(t)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const { email } = await registerUser(ctx, uniqueEmail('pages'))
  await verifyUser(ctx, email)
  const clients = Array.from({ length: 3 }, () => createClient({ baseUrl: origin, fetch: browserLikeFetch().fetch }))
  for (const c of clients) await c.login({ email, password: PASSWORD })
  const first = await clients[0].sessionPage({ limit: 2 })
  t.equal(first.sessions.length, 2)
  t.type(first.nextCursor, 'string')
  const second = await clients[0].sessionPage({ limit: 2, cursor: first.nextCursor as string })
  t.equal(second.sessions.length, 1)
  t.equal(second.nextCursor, null)
  const all = await clients[0].sessions()
  t.same(all.map(s => s.id), [...first.sessions, ...second.sessions].map(s => s.id))
  const bad = await clients[0].sessionPage({ limit: 0 }).catch((err: unknown) => err)
  t.ok(bad instanceof GatehouseError && bad.code === 'VALIDATION_FAILED', 'a bad limit is a typed 400')
})
