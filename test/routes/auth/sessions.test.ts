import t from 'tap'
import { build, cookieOf, signedInUser, PASSWORD, type TestContext } from '../../helper.js'

async function login (ctx: TestContext, email: string, userAgent: string): Promise<string> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': userAgent }, payload: { email, password: PASSWORD } })
  t.equal(res.statusCode, 200)
  return cookieOf(res) as string
}

interface Listed { id: string, kind: string, createdAt: string, lastSeenAt: string, expiresAt: string, ip: string, userAgent: string, current: boolean }

async function list (ctx: TestContext, cookie: string): Promise<Listed[]> {
  const res = await ctx.app.inject({ url: '/api/auth/sessions', headers: { cookie } })
  if (res.statusCode !== 200) throw new Error(`GET /sessions answered ${res.statusCode}: ${res.body}`)
  return res.json().sessions
}

async function me (ctx: TestContext, cookie: string): Promise<number> {
  return (await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode
}

t.test('sessions of one user', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const jars = [u.cookie, await login(ctx, u.email, 'jar-b'), await login(ctx, u.email, 'jar-c')]

  await t.test('listing shows every cookie jar, each marked current only in its own jar', async t => {
    const handles = new Set<string>()
    for (const [i, jar] of jars.entries()) {
      const sessions = await list(ctx, jar)
      t.equal(sessions.length, 3, `jar ${i} sees three sessions`)
      t.equal(sessions.filter(s => s.current).length, 1, `jar ${i} sees one current session`)
      for (const s of sessions) {
        t.equal(s.kind, 'cookie')
        t.match(s, { id: /^[A-Za-z0-9_-]{16,64}$/, createdAt: String, lastSeenAt: String, expiresAt: String, ip: '127.0.0.1' })
        t.ok(Date.parse(s.expiresAt) > Date.now())
        t.notOk(jar.includes(s.id), 'the public id is not the cookie value')
        handles.add(s.id)
      }
      const current = sessions.find(s => s.current)!
      t.equal(current.userAgent, ['lightMyRequest', 'jar-b', 'jar-c'][i])
    }
    t.equal(handles.size, 3, 'three distinct public ids')
  })

  await t.test('ending one session makes exactly that jar answer 401', async t => {
    const fromA = await list(ctx, jars[0])
    const target = fromA.find(s => s.userAgent === 'jar-b')!
    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${target.id}`, headers: { cookie: jars[0] } })
    t.equal(res.statusCode, 204)
    t.equal(await me(ctx, jars[1]), 401, 'the ended jar is signed out')
    t.equal(await me(ctx, jars[0]), 200)
    t.equal(await me(ctx, jars[2]), 200)
    t.equal((await list(ctx, jars[0])).length, 2)
    const again = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${target.id}`, headers: { cookie: jars[0] } })
    t.equal(again.statusCode, 404, 'an ended session is not found a second time')
    t.equal(again.json().code, 'NOT_FOUND')
  })

  await t.test('ending the current session through its id signs this jar out and expires the cookie', async t => {
    const extra = await login(ctx, u.email, 'jar-d')
    const self = (await list(ctx, extra)).find(s => s.current)!
    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${self.id}`, headers: { cookie: extra } })
    t.equal(res.statusCode, 204)
    t.match(String(res.headers['set-cookie']), /sessionId=;.*Expires=Thu, 01 Jan 1970/)
    t.equal(await me(ctx, extra), 401)
    t.equal(await me(ctx, jars[0]), 200)
  })

  await t.test("another user's session id answers 404 and changes nothing", async t => {
    const other = await signedInUser(ctx)
    const otherId = (await list(ctx, other.cookie))[0].id
    const before = await ctx.redis.keys('*sess:*')
    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/auth/sessions/${otherId}`, headers: { cookie: jars[0] } })
    t.equal(res.statusCode, 404)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(await me(ctx, other.cookie), 200, 'the other user is still signed in')
    t.same((await ctx.redis.keys('*sess:*')).sort(), before.sort(), 'no session key changed')
    t.equal((await list(ctx, other.cookie)).length, 1)
  })

  await t.test('bad input on each route answers 4xx and changes nothing', async t => {
    const before = (await ctx.redis.keys('*')).sort()
    const cases = [
      { method: 'DELETE' as const, url: '/api/auth/sessions/short', status: 400 },
      { method: 'DELETE' as const, url: '/api/auth/sessions/' + 'x'.repeat(65), status: 400 },
      { method: 'DELETE' as const, url: '/api/auth/sessions/' + encodeURIComponent('not a handle at all!'), status: 400 },
      { method: 'DELETE' as const, url: '/api/auth/sessions/' + 'A'.repeat(22), status: 404 }
    ]
    for (const c of cases) {
      const res = await ctx.app.inject({ method: c.method, url: c.url, headers: { cookie: jars[0] } })
      t.equal(res.statusCode, c.status, `${c.method} ${c.url.slice(0, 40)}`)
    }
    for (const [method, url] of [['GET', '/api/auth/sessions'], ['DELETE', '/api/auth/sessions/' + 'A'.repeat(22)], ['POST', '/api/auth/logout-all']] as const) {
      const anon = await ctx.app.inject({ method, url })
      t.equal(anon.statusCode, 401, `${method} ${url} without a session`)
      t.equal(anon.json().code, 'UNAUTHENTICATED')
      const forged = await ctx.app.inject({ method, url, headers: { cookie: 'sessionId=forged.value' } })
      t.equal(forged.statusCode, 401, `${method} ${url} with a forged cookie`)
    }
    const body = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: { cookie: jars[0], 'content-type': 'application/json' }, payload: 'x'.repeat(17 * 1024) })
    t.equal(body.statusCode, 413)
    t.same((await ctx.redis.keys('*')).filter(k => !k.includes('rl:')).sort(), before.filter(k => !k.includes('rl:')), 'no key added or removed')
    t.equal(await me(ctx, jars[0]), 200)
  })

  await t.test('logout-all ends every session, this one included, and clears the cookie', async t => {
    t.ok((await list(ctx, jars[0])).length >= 2)
    const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: { cookie: jars[2] } })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.match(String(res.headers['set-cookie']), /sessionId=;.*Expires=Thu, 01 Jan 1970/)
    for (const jar of jars) t.equal(await me(ctx, jar), 401)
    const fresh = await login(ctx, u.email, 'after')
    const sessions = await list(ctx, fresh)
    t.equal(sessions.length, 1, 'only the new session is listed')
    const user = (await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: fresh } })).json().user
    t.equal((await ctx.app.sessionStore.indexed(user.id as string)).length, 1, 'the index holds only the new session')
  })
})

t.test('the session list comes a page at a time', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  for (let i = 0; i < 4; i++) await login(ctx, u.email, `jar-${i}`)
  const everything = await list(ctx, u.cookie)
  t.equal(everything.length, 5)

  await t.test('pages of two give the whole list once, in order, then a null cursor', async t => {
    const seen: string[] = []
    let cursor: string | null = null
    for (let i = 0; i < 10; i++) {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`
      const res = await ctx.app.inject({ url: `/api/auth/sessions${query}`, headers: { cookie: u.cookie } })
      t.equal(res.statusCode, 200)
      const page = res.json()
      t.ok(page.sessions.length <= 2)
      seen.push(...page.sessions.map((s: Listed) => s.id))
      cursor = page.nextCursor
      if (cursor === null) break
      t.match(cursor, /^[0-9a-z]+\.[A-Za-z0-9_-]+$/)
    }
    t.same(seen, everything.map(s => s.id))
    t.equal(cursor, null)
  })

  await t.test('without a limit one page holds up to 100, and says it is the last', async t => {
    const res = await ctx.app.inject({ url: '/api/auth/sessions', headers: { cookie: u.cookie } })
    t.same(res.json().nextCursor, null)
    t.equal(res.json().sessions.length, 5)
  })

  await t.test('a bad limit or cursor, or another parameter, is a 400 VALIDATION_FAILED', async t => {
    for (const query of ['limit=0', 'limit=101', 'limit=-1', 'limit=2.5', 'limit=abc', 'limit=', 'cursor=', 'cursor=x', `cursor=${'a'.repeat(200)}`, 'cursor=%F0%9F%98%80.aaaaaaaaaaaaaaaaaaa', 'cursor=abc.%00aaaaaaaaaaaaaaaaaaa', 'page=2', 'limit=1&limit=2']) {
      const res = await ctx.app.inject({ url: `/api/auth/sessions?${query}`, headers: { cookie: u.cookie } })
      t.equal(res.statusCode, 400, query)
      t.equal(res.json().code, 'VALIDATION_FAILED', query)
    }
  })

  await t.test('a page needs a session', async t => {
    const res = await ctx.app.inject({ url: '/api/auth/sessions?limit=1' })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'UNAUTHENTICATED')
  })
})

t.test('MAX_SESSIONS_PER_USER: a sign-in beyond it ends the oldest sessions first', async t => {
  const ctx = await build(t, { MAX_SESSIONS_PER_USER: '3' })
  const u = await signedInUser(ctx)
  const older = [u.cookie, await login(ctx, u.email, 'second'), await login(ctx, u.email, 'third')]
  const fourth = await login(ctx, u.email, 'fourth')
  t.equal(await me(ctx, older[0]), 401, 'the oldest session has ended')
  for (const jar of [older[1], older[2], fourth]) t.equal(await me(ctx, jar), 200, 'the three newest are live')
  t.same((await list(ctx, fourth)).map(s => s.userAgent).sort(), ['fourth', 'second', 'third'])
})

t.test('MAX_SESSIONS_PER_USER holds under many logins in flight from many addresses', async t => {
  const ctx = await build(t, { MAX_SESSIONS_PER_USER: '5' })
  const u = await signedInUser(ctx)
  const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => await ctx.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    remoteAddress: `198.51.100.${i + 1}`,
    headers: { 'user-agent': `parallel-${i}` },
    payload: { email: u.email, password: PASSWORD }
  })))
  t.ok(answers.every(r => r.statusCode === 200), 'every login succeeds')
  const cookies = answers.map(r => cookieOf(r) as string)
  const live = []
  for (const c of cookies) if (await me(ctx, c) === 200) live.push(c)
  t.equal(live.length, 5, 'exactly the maximum is live')
  const user = (await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: live[0] } })).json().user
  t.equal((await ctx.app.sessionStore.indexed(user.id as string)).length, 5, 'and the index holds exactly those')
  t.equal((await list(ctx, live[0])).length, 5)
  t.equal(await me(ctx, u.cookie), 401, 'the session from before the burst, the oldest, has ended')
  // Another round: the five live ones are now the oldest and all give way.
  const next = await Promise.all(Array.from({ length: 5 }, async (_, i) => await ctx.app.inject({
    method: 'POST', url: '/api/auth/login', remoteAddress: `203.0.113.${i + 1}`, payload: { email: u.email, password: PASSWORD }
  })))
  for (const c of live) t.equal(await me(ctx, c), 401)
  for (const r of next) t.equal(await me(ctx, cookieOf(r) as string), 200)
})
