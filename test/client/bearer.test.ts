import t from 'tap'
import type { AddressInfo } from 'node:net'
import { createClient, GatehouseError, type SessionEndEvent } from '../../client/src/index.js'
import { build, PASSWORD, registerUser, uniqueEmail, verifyUser, type TestContext } from '../helper.js'

/** The app on a real socket, as a client in another process would reach it. */
async function listening (ctx: TestContext): Promise<string> {
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
}

async function verifiedUser (ctx: TestContext): Promise<string> {
  const { email } = await registerUser(ctx, uniqueEmail('client'))
  await verifyUser(ctx, email)
  return email
}

/** fetch, counting the refreshes it carries (with their answers) and the other calls' 401s. */
function countingFetch (): { fetch: typeof fetch, refreshes: number[], unauthorized: number } {
  const counts = {
    refreshes: [] as number[],
    unauthorized: 0,
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init)
      if (String(input).endsWith('/token/refresh')) counts.refreshes.push(res.status)
      else if (res.status === 401) counts.unauthorized++
      return res
    }
  }
  return counts
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, Math.max(0, ms))) }

t.test('bearer mode: many calls across an access-token expiry make exactly one refresh, round after round', async t => {
  const ctx = await build(t, { ACCESS_TOKEN_TTL: '2' })
  const origin = await listening(ctx)
  const email = await verifiedUser(ctx)
  const counter = countingFetch()
  const ended: SessionEndEvent[] = []
  // The client takes the token for good until 150 ms past its expiry (as with a clock that
  // runs ahead of the server's), so each burst has calls that meet the 401 and calls that
  // refresh before sending: both ways into the one refresh.
  const client = createClient({ mode: 'bearer', baseUrl: origin, fetch: counter.fetch, refreshLeeway: -0.15, onSessionEnd: e => ended.push(e) })

  const login = await client.login({ email, password: PASSWORD })
  t.equal(login.mfaRequired, false)
  if (login.mfaRequired) return
  t.equal(login.tokenType, 'Bearer')

  const ROUNDS = 6
  const CALLS = 24
  for (let round = 1; round <= ROUNDS; round++) {
    const before = counter.refreshes.length
    // Start the burst just before the token expires and spread it past the expiry, so some
    // calls go out with the old token and come back 401 while others find it expired.
    await sleep(Date.parse(client.tokens?.expiresAt ?? '') - Date.now() - 40)
    const calls = Array.from({ length: CALLS }, async (_, i) => {
      await sleep((i % 8) * 25)
      return i % 3 === 0 ? (await client.sessions()).length : (await client.me()).user.email
    })
    const results = await Promise.allSettled(calls)
    const failed = results.filter(r => r.status === 'rejected')
    t.equal(failed.length, 0, `round ${round}: all ${CALLS} calls answered`, { failed: failed.map(f => String((f as PromiseRejectedResult).reason)) })
    t.same(counter.refreshes.slice(before), [200], `round ${round}: exactly one refresh, and it succeeded`)
  }

  t.ok(counter.unauthorized > 0, `calls met the expiry and were retried (${counter.unauthorized} 401s)`)
  t.same(ended, [], 'the session never ended')
  const sessions = await client.sessions()
  t.equal(sessions.filter(s => s.kind === 'token').length, 1, 'one token family, never revoked')
  t.equal(sessions.find(s => s.kind === 'token')?.current, true)
  t.equal((await client.me()).user.email, email, 'the last token pair still works')
})

t.test('bearer mode: a family ended elsewhere ends the session once, with a typed 401', async t => {
  const ctx = await build(t)
  const origin = await listening(ctx)
  const email = await verifiedUser(ctx)
  const ended: SessionEndEvent[] = []
  const stored: Array<string | null> = []
  const app = createClient({ mode: 'bearer', baseUrl: origin, onSessionEnd: e => ended.push(e), onTokens: tokens => stored.push(tokens?.refreshToken ?? null) })
  const admin = createClient({ mode: 'bearer', baseUrl: origin })
  await app.login({ email, password: PASSWORD })
  await admin.login({ email, password: PASSWORD })
  t.equal(stored.length, 1, 'the new tokens were handed over for storage')

  const family = (await admin.sessions()).find(s => s.kind === 'token' && !s.current)
  t.ok(family, 'the other client\'s family is listed')
  await admin.endSession(family?.id ?? '')

  const results = await Promise.allSettled([app.me(), app.me(), app.sessions()])
  for (const r of results) {
    t.equal(r.status, 'rejected')
    const err = (r as PromiseRejectedResult).reason as unknown
    t.ok(err instanceof GatehouseError, 'a GatehouseError')
    t.equal((err as GatehouseError).code, 'UNAUTHENTICATED')
    t.equal((err as GatehouseError).status, 401)
  }
  t.equal(ended.length, 1, 'onSessionEnd fired once')
  t.equal(ended[0]?.error.code, 'UNAUTHENTICATED')
  t.equal(app.tokens, undefined, 'the tokens are forgotten')
  t.equal(stored.at(-1), null, 'and the storage told so')
  t.equal((await admin.me()).user.email, email, 'the other client is still signed in')
})

t.test('bearer mode: logout after the access token expired ends the family with its refresh token, without refreshing first', async t => {
  const ctx = await build(t, { ACCESS_TOKEN_TTL: '1' })
  const origin = await listening(ctx)
  const email = await verifiedUser(ctx)
  const counter = countingFetch()
  const app = createClient({ mode: 'bearer', baseUrl: origin, fetch: counter.fetch })
  const other = createClient({ mode: 'bearer', baseUrl: origin })
  await app.login({ email, password: PASSWORD })
  await other.login({ email, password: PASSWORD })
  const held = app.tokens!
  await sleep(Date.parse(held.expiresAt) - Date.now() + 200)
  await app.logout()
  t.same(counter.refreshes, [], 'no refresh was spent to log out')
  t.equal(app.tokens, undefined, 'the tokens are forgotten')
  const refused = await fetch(`${origin}/api/auth/token/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: held.refreshToken }) })
  t.equal(refused.status, 401, 'the family ended on the server')
  t.equal((await other.sessions()).filter(s => s.kind === 'token').length, 1, 'only the other client\'s family is left')
})

t.test('errors carry the problem document: code, fieldErrors, retryAfter', async t => {
  const ctx = await build(t, { LOGIN_RATE_LIMIT: '3' })
  const origin = await listening(ctx)
  const email = await verifiedUser(ctx)
  const client = createClient({ mode: 'bearer', baseUrl: origin })

  const invalid = await client.register({ email, password: 'short' }).catch((err: unknown) => err)
  t.ok(invalid instanceof GatehouseError)
  t.equal((invalid as GatehouseError).code, 'VALIDATION_FAILED')
  t.ok((invalid as GatehouseError).fieldErrors.password?.length, 'the password field is named')

  const wrong = await client.login({ email, password: 'not the password' }).catch((err: unknown) => err)
  t.equal((wrong as GatehouseError).code, 'INVALID_CREDENTIALS')
  t.equal((wrong as GatehouseError).retryAfter, undefined)

  let limited: GatehouseError | undefined
  for (let i = 0; i < 5 && limited === undefined; i++) {
    const err = await client.login({ email, password: 'not the password' }).catch((e: unknown) => e)
    if (err instanceof GatehouseError && err.code === 'RATE_LIMITED') limited = err
  }
  t.ok(limited, 'the login limit answers RATE_LIMITED')
  t.equal(limited?.status, 429)
  t.ok((limited?.retryAfter ?? 0) >= 1, `retryAfter is the Retry-After header (${limited?.retryAfter})`)
})
