import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, cookieOf, PASSWORD, signedInUser } from '../../helper.js'
import { decodeSession as decode, encodeSession as encode } from '../../../src/sessions/record.js'

t.test('me and logout', async t => {
  const ctx = await build(t)
  const { app } = ctx

  t.test('/me reads the session back and slides the cookie', async t => {
    const u = await signedInUser(ctx)
    const res = await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.equal(body.user.email, u.email)
    t.equal(body.csrfToken, u.csrfToken, 'the CSRF token is bound to the session')
    t.ok(Date.parse(body.session.expiresAt) >= Date.parse(u.body.session.expiresAt))
    const header = [res.headers['set-cookie']].flat()[0] as string
    t.match(header, /Max-Age=604800/, 'every authenticated answer pushes the cookie expiry 7 days ahead')
    t.equal(cookieOf(res), u.cookie, 'the same id')
  })

  t.test('/me without a live session is 401 UNAUTHENTICATED', async t => {
    for (const cookie of [undefined, 'sessionId=garbage', 'sessionId=abc.def', 'other=1']) {
      const res = await app.inject({ url: '/api/auth/me', headers: cookie === undefined ? {} : { cookie } })
      t.equal(res.statusCode, 401, String(cookie))
      t.equal(res.json().code, 'UNAUTHENTICATED')
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
  })

  t.test('logout deletes the session server side, expires the cookie, and is idempotent', async t => {
    const u = await signedInUser(ctx)
    const before = await ctx.redis.keys('gh:sess:*')
    const res = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: u.cookie } })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    const header = [res.headers['set-cookie']].flat()[0] as string
    t.match(header, /^sessionId=;/)
    t.match(header, /Max-Age=0|Expires=Thu, 01 Jan 1970/)
    const after = await ctx.redis.keys('gh:sess:*')
    t.equal(after.length, before.length - 1, 'the session key is gone')
    const me = await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(me.statusCode, 401, 'a copy of the old cookie is useless')
    const again = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: u.cookie } })
    t.equal(again.statusCode, 204)
    const bare = await app.inject({ method: 'POST', url: '/api/auth/logout' })
    t.equal(bare.statusCode, 204)
  })

  t.test('the Redis TTL moves forward after /me once the slide step has passed, and not on every request', async t => {
    // a short lifetime so that a one-minute slide step is a visible share of it
    const short = await build(t, { SESSION_TTL: '120' }, ctx.server)
    const u = await signedInUser(short)
    const [key] = await short.redis.keys('gh:sess:*').then(async keys => {
      const out: string[] = []
      for (const k of keys) if ((await short.redis.pttl(k)) <= 120_000) out.push(k)
      return out
    })
    t.ok(key)
    // age the session by 70 s, as if the last touch were that long ago: its expiry and its
    // "last seen", which every write sets together
    await short.redis.pexpire(key, 50_000)
    const aged = decode((await short.redis.get(key))!, short.app.sessionStore.absoluteTtlMs)
    await short.redis.set(key, encode({ ...aged, lastSeenAt: Date.now() - 70_000 }), 'KEEPTTL')
    const mid = await short.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(mid.statusCode, 200)
    const ttl = await short.redis.pttl(key)
    t.ok(ttl > 110_000, `TTL pushed back to ~120 s (got ${ttl})`)
    const value = decode((await short.redis.get(key))!, short.app.sessionStore.absoluteTtlMs)
    t.ok(Date.now() - value.lastSeenAt < 5_000, 'lastSeenAt recorded with the slide')

    // right after a slide, more requests do not write
    const info = async (): Promise<number> => Number((await short.redis.info('stats')).match(/total_writes_processed:(\d+)/)?.[1] ?? 'NaN')
    const cmdstat = async (): Promise<number> => {
      const s = await short.redis.info('commandstats')
      return ['set', 'pexpire'].reduce((n, c) => n + Number(s.match(new RegExp(`cmdstat_${c}:calls=(\\d+)`))?.[1] ?? 0), 0)
    }
    await info()
    const writesBefore = await cmdstat()
    for (let i = 0; i < 20; i++) {
      const r = await short.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
      t.equal(r.statusCode, 200)
    }
    t.equal(await cmdstat(), writesBefore, '20 reads of /me wrote nothing')
  })

  t.test('an idle session expires with its TTL', async t => {
    const short = await build(t, { SESSION_TTL: '1' }, ctx.server)
    const u = await signedInUser(short)
    t.match(u.setCookie.find(c => c.startsWith('sessionId=')), /Max-Age=1;/)
    await sleep(1300)
    const me = await short.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(me.statusCode, 401)
  })

  t.test('the absolute lifetime ends a session however active it is', async t => {
    const short = await build(t, { SESSION_ABSOLUTE_TTL: '2' }, ctx.server)
    const u = await signedInUser(short)
    const body = u.body
    t.ok(Date.parse(body.session.expiresAt) - Date.now() <= 2_000, 'expiresAt is bounded by the absolute lifetime')
    const deadline = Date.now() + 2_500
    let last = 200
    while (Date.now() < deadline) {
      last = (await short.app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode
      if (last !== 200) break
      await sleep(100)
    }
    t.equal(last, 401, 'active use does not keep it alive')
    const keys = await short.redis.keys('gh:sess:*')
    for (const k of keys) {
      const raw = await short.redis.get(k)
      // Other tests' apps share this Redis, with longer lifetimes: only this user's sessions count.
      const s = raw === null ? null : decode(raw, short.app.sessionStore.absoluteTtlMs)
      t.ok(s === null || s.userId !== body.user.id || s.absoluteExpiresAt > Date.now(), 'no session past its absolute expiry is left in Redis')
    }
  })

  t.test('a disabled account loses its session at the next request', async t => {
    const u = await signedInUser(ctx)
    const user = await app.users.findByEmail(u.email)
    await app.users.update(user!.id, { disabled: true })
    const me = await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(me.statusCode, 401)
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: PASSWORD } })
    t.equal(login.json().code, 'ACCOUNT_DISABLED')
  })
})
