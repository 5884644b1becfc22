import t from 'tap'
import { build, cookieOf, listen, request, signedInUser, verifiedUser, uniqueEmail, PASSWORD, type TestContext } from '../../helper.js'
import { run } from '../../../src/cli/user.js'
import { digest } from '../../../src/crypto/secrets.js'
import { endAllSessions } from '../../../src/sessions/end-all.js'

interface Grant { accessToken: string, tokenType: string, expiresIn: number, expiresAt: string, refreshToken: string }

async function tokenLogin (ctx: TestContext, email: string, userAgent = 'cli/1.0'): Promise<Grant> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', headers: { 'user-agent': userAgent }, payload: { email, password: PASSWORD } })
  if (res.statusCode !== 200) throw new Error(`POST /token answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

async function refresh (ctx: TestContext, refreshToken: string): Promise<{ status: number, body: any }> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/token/refresh', payload: { refreshToken } })
  return { status: res.statusCode, body: res.json() }
}

async function meWith (ctx: TestContext, accessToken: string): Promise<number> {
  return (await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode
}

t.test('bearer tokens', async t => {
  const ctx = await build(t)

  await t.test('a token login answers a bearer grant that /me accepts without a cookie', async t => {
    const email = await verifiedUser(ctx, uniqueEmail('tok'))
    const before = Date.now()
    const g = await tokenLogin(ctx, email)
    t.equal(g.tokenType, 'Bearer')
    t.equal(g.expiresIn, 900, 'ACCESS_TOKEN_TTL defaults to 15 minutes')
    t.ok(Math.abs(Date.parse(g.expiresAt) - (before + 900_000)) < 60_000)
    t.match(g.accessToken, /^gha_[A-Za-z0-9_-]{43}$/)
    t.match(g.refreshToken, /^ghr_[A-Za-z0-9_-]{43}$/)
    const res = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${g.accessToken}` } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().user.email, email)
    t.equal(res.json().session.expiresAt, g.expiresAt, '/me reports the access token expiry')
    t.equal(res.headers['set-cookie'], undefined, 'a bearer request gets no cookie')
    const lower = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `bearer ${g.accessToken}` } })
    t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
  })

  await t.test('Redis holds only digests of the tokens', async t => {
    const email = await verifiedUser(ctx, uniqueEmail('tok'))
    const g = await tokenLogin(ctx, email)
    const keys = await ctx.redis.keys('*')
    const values: string[] = []
    for (const k of keys) {
      const type = await ctx.redis.type(k)
      if (type === 'string') values.push(String(await ctx.redis.get(k)))
      if (type === 'hash') values.push(JSON.stringify(await ctx.redis.hgetall(k)))
      if (type === 'zset') values.push(JSON.stringify(await ctx.redis.zrange(k, 0, -1)))
    }
    const dump = keys.join('\n') + values.join('\n')
    for (const secret of [g.accessToken, g.refreshToken, g.accessToken.slice(4), g.refreshToken.slice(4)]) t.notOk(dump.includes(secret))
    t.ok(keys.includes(`gh:at:${digest(g.accessToken)}`))
    t.ok(keys.includes(`gh:rt:${digest(g.refreshToken)}`))
  })

  await t.test('a bad or missing bearer token answers 401 UNAUTHENTICATED, even with a valid cookie', async t => {
    const u = await signedInUser(ctx)
    const g = await tokenLogin(ctx, u.email)
    for (const header of ['Bearer ', 'Bearer x', `Bearer ${g.refreshToken}`, `Bearer gha_${'A'.repeat(43)}`, `Bearer ${g.accessToken}x`, 'Bearer a b']) {
      const res = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: header, cookie: u.cookie } })
      t.equal(res.statusCode, 401, JSON.stringify(header.slice(0, 12)))
      t.equal(res.json().code, 'UNAUTHENTICATED')
    }
  })

  await t.test('an access token stops working when its lifetime is over', async t => {
    const short = await build(t, { ACCESS_TOKEN_TTL: '1' }, ctx.server)
    const email = await verifiedUser(short, uniqueEmail('tok'))
    const res = await short.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email, password: PASSWORD } })
    const g: Grant = res.json()
    t.equal(g.expiresIn, 1)
    // Wait for Redis to expire the key (no assertion on how long that takes).
    const key = `gh:at:${digest(g.accessToken)}`
    for (let i = 0; i < 600 && await short.redis.exists(key) === 1; i++) await new Promise(resolve => setTimeout(resolve, 50))
    t.equal(await short.redis.exists(key), 0)
    t.equal(await meWith(short, g.accessToken), 401)
    const r = await refresh(short, g.refreshToken)
    t.equal(r.status, 200, 'the refresh token still works')
    t.equal(await meWith(short, r.body.accessToken), 200)
  })

  await t.test('refresh rotates: a new pair works and the old refresh token is spent', async t => {
    const email = await verifiedUser(ctx, uniqueEmail('tok'))
    const g1 = await tokenLogin(ctx, email)
    const r = await refresh(ctx, g1.refreshToken)
    t.equal(r.status, 200)
    const g2: Grant = r.body
    t.not(g2.refreshToken, g1.refreshToken)
    t.not(g2.accessToken, g1.accessToken)
    t.equal(g2.tokenType, 'Bearer')
    t.equal(await meWith(ctx, g2.accessToken), 200)
    const r2 = await refresh(ctx, g2.refreshToken)
    t.equal(r2.status, 200, 'the new refresh token rotates in turn')
    t.equal(await meWith(ctx, r2.body.accessToken), 200)
  })

  await t.test('presenting a spent refresh token ends the whole family', async t => {
    const email = await verifiedUser(ctx, uniqueEmail('tok'))
    const other = await tokenLogin(ctx, email, 'other-device')
    const g1 = await tokenLogin(ctx, email)
    const g2: Grant = (await refresh(ctx, g1.refreshToken)).body
    const g3: Grant = (await refresh(ctx, g2.refreshToken)).body
    t.equal(await meWith(ctx, g3.accessToken), 200)
    const reuse = await refresh(ctx, g1.refreshToken)
    t.equal(reuse.status, 401)
    t.equal(reuse.body.code, 'UNAUTHENTICATED')
    for (const a of [g1.accessToken, g2.accessToken, g3.accessToken]) t.equal(await meWith(ctx, a), 401, 'every access token of the family is dead')
    t.equal((await refresh(ctx, g3.refreshToken)).status, 401, 'the latest refresh token is dead too')
    t.equal(await meWith(ctx, other.accessToken), 200, 'another login of the same user is untouched')
    t.equal((await refresh(ctx, other.refreshToken)).status, 200)
  })

  await t.test('two concurrent refreshes with one token succeed at most once (over a real socket)', async t => {
    const server = await build(t, {}, ctx.server)
    const base = await listen(server.app)
    const email = await verifiedUser(server, uniqueEmail('tok'))
    for (let round = 0; round < 5; round++) {
      const g = await tokenLogin(server, email)
      const answers = await Promise.all([0, 1, 2].map(async () => {
        const res = await request(base, 'POST', '/api/auth/token/refresh', { body: { refreshToken: g.refreshToken } })
        return { status: res.status, body: res.body as Grant }
      }))
      const ok = answers.filter(a => a.status === 200)
      t.ok(ok.length <= 1, `round ${round}: at most one refresh succeeded (${ok.length})`)
      t.equal(answers.filter(a => a.status === 401).length, answers.length - ok.length, 'the others answer 401')
      // A loser presented a spent token: that is reuse, so the family ends, winner's pair included.
      t.equal(await meWith(server, g.accessToken), 401, 'the family ended on reuse')
      if (ok.length === 1) t.equal(await meWith(server, ok[0].body.accessToken), 401, "the winner's new pair is dead too")
    }
  })

  await t.test('/sessions lists token families beside cookie sessions and can end one', async t => {
    const u = await signedInUser(ctx)
    const g = await tokenLogin(ctx, u.email, 'my-cli')
    const viaCookie = await ctx.app.inject({ url: '/api/auth/sessions', headers: { cookie: u.cookie } })
    const list = viaCookie.json().sessions as Array<{ id: string, kind: string, current: boolean, userAgent: string, expiresAt: string }>
    t.equal(list.length, 2)
    const family = list.find(s => s.kind === 'token')!
    t.equal(family.userAgent, 'my-cli')
    t.equal(family.current, false)
    t.ok(Date.parse(family.expiresAt) > Date.now() + 29 * 86400_000, 'a family lives as long as its refresh token')
    t.equal(list.find(s => s.kind === 'cookie')!.current, true)
    t.notOk(g.accessToken.includes(family.id) || g.refreshToken.includes(family.id))

    const viaBearer = await ctx.app.inject({ url: '/api/auth/sessions', headers: { authorization: `Bearer ${g.accessToken}` } })
    const list2 = viaBearer.json().sessions as typeof list
    t.equal(list2.find(s => s.kind === 'token')!.current, true, 'with the bearer, its family is current')
    t.equal(list2.find(s => s.kind === 'cookie')!.current, false)

    const del = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${family.id}`, headers: { cookie: u.cookie } })
    t.equal(del.statusCode, 204)
    t.equal(await meWith(ctx, g.accessToken), 401)
    t.equal((await refresh(ctx, g.refreshToken)).status, 401)
    t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode, 200)

    const stranger = await signedInUser(ctx)
    const theirs = await tokenLogin(ctx, stranger.email)
    const theirId = ((await ctx.app.inject({ url: '/api/auth/sessions', headers: { authorization: `Bearer ${theirs.accessToken}` } })).json().sessions as typeof list).find(s => s.kind === 'token')!.id
    const cross = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${theirId}`, headers: { cookie: u.cookie } })
    t.equal(cross.statusCode, 404, "another user's family is not found")
    t.equal(await meWith(ctx, theirs.accessToken), 200)
  })

  await t.test('logout-all, /logout with the bearer, and disabling an account end token families', async t => {
    const u = await signedInUser(ctx)
    const a = await tokenLogin(ctx, u.email)
    const b = await tokenLogin(ctx, u.email)
    const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: { authorization: `Bearer ${a.accessToken}` } })
    t.equal(res.statusCode, 204, 'a bearer request needs no cookie or CSRF token')
    for (const g of [a, b]) {
      t.equal(await meWith(ctx, g.accessToken), 401)
      t.equal((await refresh(ctx, g.refreshToken)).status, 401)
    }
    t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode, 401, 'the cookie session ended too')
    const userId = await ctx.redis.get(`gh:email:${u.email}`)
    t.equal(await ctx.redis.exists(`gh:user:{${userId}}:tokens`), 0, 'the family index is gone')

    const c = await tokenLogin(ctx, u.email)
    const out = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { authorization: `Bearer ${c.accessToken}` } })
    t.equal(out.statusCode, 204)
    t.equal(await meWith(ctx, c.accessToken), 401)
    t.equal((await refresh(ctx, c.refreshToken)).status, 401)

    const d = await tokenLogin(ctx, u.email)
    const lines: string[] = []
    t.equal(await run(['disable', u.email], ctx.app, l => lines.push(l)), 0)
    t.match(lines.join('\n'), /1 session\(s\) ended, token families included/)
    t.equal(await meWith(ctx, d.accessToken), 401)
    t.equal((await refresh(ctx, d.refreshToken)).status, 401)
    const denied = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: PASSWORD } })
    t.equal(denied.statusCode, 403)
    t.equal(denied.json().code, 'ACCOUNT_DISABLED')
  })

  await t.test('endAllSessions ends token families, except the one it is told to keep', async t => {
    const u = await signedInUser(ctx)
    const a = await tokenLogin(ctx, u.email)
    const b = await tokenLogin(ctx, u.email)
    const c = await tokenLogin(ctx, u.email)
    const userId = String(await ctx.redis.get(`gh:email:${u.email}`))
    const kept = await ctx.app.tokenStore.authenticate(a.accessToken)
    const ended = await endAllSessions(ctx.app.sessions, userId, kept!.familyId)
    t.equal(ended, 3, 'the cookie session and the two other families')
    t.equal(await meWith(ctx, a.accessToken), 200)
    t.equal(await meWith(ctx, b.accessToken), 401)
    t.equal((await refresh(ctx, c.refreshToken)).status, 401)
    t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode, 401)
    t.equal(await endAllSessions(ctx.app.sessions, userId), 1, 'without keep, the last family goes too')
    t.equal(await meWith(ctx, a.accessToken), 401)
  })

  await t.test('bad input on the token routes answers 4xx and changes nothing', async t => {
    const email = await verifiedUser(ctx, uniqueEmail('tok'))
    const g = await tokenLogin(ctx, email)
    const before = (await ctx.redis.keys('*')).filter(k => !k.includes('rl:') && !k.includes('login-throttle:')).sort()
    const cases: Array<{ url: string, payload: unknown, status: number, code: string }> = [
      { url: '/api/auth/token', payload: {}, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token', payload: { email, password: PASSWORD, extra: 1 }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token', payload: { password: PASSWORD }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token', payload: { email, password: 'wrong password' }, status: 401, code: 'INVALID_CREDENTIALS' },
      { url: '/api/auth/token', payload: { email: uniqueEmail('nobody'), password: PASSWORD }, status: 401, code: 'INVALID_CREDENTIALS' },
      { url: '/api/auth/token', payload: { email, password: 'x'.repeat(129) }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token/refresh', payload: {}, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: '' }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: g.refreshToken, more: true }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: 42 }, status: 400, code: 'VALIDATION_FAILED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: g.accessToken }, status: 401, code: 'UNAUTHENTICATED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: `ghr_${'A'.repeat(43)}` }, status: 401, code: 'UNAUTHENTICATED' },
      { url: '/api/auth/token/refresh', payload: { refreshToken: 'x'.repeat(129) }, status: 400, code: 'VALIDATION_FAILED' }
    ]
    for (const c of cases) {
      const res = await ctx.app.inject({ method: 'POST', url: c.url, payload: c.payload as object })
      t.equal(res.statusCode, c.status, `${c.url} ${JSON.stringify(c.payload).slice(0, 60)}`)
      t.equal(res.json().code, c.code)
    }
    const big = await ctx.app.inject({ method: 'POST', url: '/api/auth/token/refresh', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ refreshToken: 'x'.repeat(17 * 1024) }) })
    t.equal(big.statusCode, 413)
    t.same((await ctx.redis.keys('*')).filter(k => !k.includes('rl:') && !k.includes('login-throttle:')).sort(), before, 'no key added or removed')
    t.equal((await refresh(ctx, g.refreshToken)).status, 200, 'the refresh token was not spent by the bad requests')
  })

  await t.test('a cookie login is unaffected by bearer support', async t => {
    const u = await signedInUser(ctx)
    const res = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie, authorization: 'Basic dXNlcjpwdw==' } })
    t.equal(res.statusCode, 200, 'a non-bearer Authorization header leaves the cookie in charge')
    t.ok(cookieOf(res))
  })
})

t.test('the token login is limited like /login, per client IP', async t => {
  const ctx = await build(t, { LOGIN_RATE_LIMIT: '3' })
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    statuses.push((await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: uniqueEmail('rl'), password: PASSWORD } })).statusCode)
  }
  t.same(statuses, [401, 401, 401, 429])
})
