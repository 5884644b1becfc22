import t from 'tap'
import { PASSWORD, signedInUser, uniqueEmail } from '../helper.js'
import { burst, ip, target, type Target } from './attack.js'

interface Grant { accessToken: string, refreshToken: string, expiresAt: string }

async function tokenLogin (s: Target, email: string, from: string): Promise<Grant> {
  const r = await s.send(from, 'POST', '/api/auth/token', { email, password: PASSWORD })
  if (r.status !== 200) throw new Error(`POST /token answered ${r.status}`)
  return r.body as Grant
}

const bearer = (accessToken: string): Record<string, string> => ({ authorization: `Bearer ${accessToken}` })

t.test('logout with an expired access token ends the family when the refresh token comes with it', async t => {
  const s = await target(t, { ACCESS_TOKEN_TTL: '1' })
  const user = await signedInUser(s, uniqueEmail('expired-logout'))
  const g = await tokenLogin(s, user.email, ip(1))
  await new Promise(resolve => setTimeout(resolve, Date.parse(g.expiresAt) - Date.now() + 200))
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(g.accessToken))).status, 401, 'the access token has expired')

  // The expired access token alone names nothing: the server forgot it when it expired.
  const alone = await s.send(ip(1), 'POST', '/api/auth/logout', undefined, bearer(g.accessToken))
  t.equal(alone.status, 204)
  const next = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: g.refreshToken })
  t.equal(next.status, 200, 'so the family lives on (the documented limit: send the refresh token)')

  const out = await s.send(ip(1), 'POST', '/api/auth/logout', { refreshToken: next.body.refreshToken }, bearer(g.accessToken))
  t.equal(out.status, 204)
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(next.body.accessToken))).status, 401, 'the family\'s live access token died too')
  t.equal((await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: next.body.refreshToken })).status, 401, 'and its refresh token')
  t.equal(await s.redis.zcard(`gh:user:{${user.userId}}:tokens`), 0, 'no family is left in the user\'s index')
})

t.test('a spent refresh token still names its family at logout; a malformed or unknown one ends nothing', async t => {
  const s = await target(t)
  const user = await signedInUser(s, uniqueEmail('spent-logout'))
  const mine = await tokenLogin(s, user.email, ip(1))
  const other = await tokenLogin(s, user.email, ip(2))
  const next = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: mine.refreshToken })
  t.equal(next.status, 200)
  for (const refreshToken of ['ghr_' + 'A'.repeat(43), 'gha_' + 'A'.repeat(43), 'not a token', other.accessToken]) {
    t.equal((await s.send(ip(3), 'POST', '/api/auth/logout', { refreshToken })).status, 204, 'idempotent, whatever it is given')
  }
  t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, bearer(other.accessToken))).status, 200, 'nothing else ended')
  t.equal((await s.send(ip(1), 'POST', '/api/auth/logout', { refreshToken: mine.refreshToken })).status, 204)
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(next.body.accessToken))).status, 401, 'the family of the spent token ended')
  t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, bearer(other.accessToken))).status, 200, 'the other family goes on')
})

t.test('twenty logouts each in flight with a refresh of the same family leave no pair of them working', async t => {
  const s = await target(t)
  const user = await signedInUser(s, uniqueEmail('race-logout'))
  const grants = await burst(20, async i => await tokenLogin(s, user.email, ip(i)))
  // Forty requests in flight from forty addresses: for each family a refresh, which mints a
  // new pair, and a logout naming the refresh token it spends. In whatever order they run,
  // a pair minted by the refresh must not outlive the logout.
  const answers = await burst(40, async i => {
    const g = grants[i >> 1]
    return i % 2 === 0
      ? await s.send(ip(50 + i), 'POST', '/api/auth/token/refresh', { refreshToken: g.refreshToken })
      // Staggered by 0 to 95 ms so that the race goes both ways: some refreshes finish first.
      : await new Promise(resolve => setTimeout(resolve, 5 * (i >> 1))).then(async () => await s.send(ip(50 + i), 'POST', '/api/auth/logout', { refreshToken: g.refreshToken }))
  })
  t.ok(answers.filter((_, i) => i % 2 === 1).every(a => a.status === 204), 'every logout answered 204')
  const minted = answers.filter((a, i) => i % 2 === 0 && a.status === 200)
  t.comment(`${minted.length} of 20 refreshes minted a pair before their logout ran`)
  for (const a of minted) {
    t.equal((await s.send(ip(99), 'GET', '/api/auth/me', undefined, bearer(a.body.accessToken as string))).status, 401, 'a pair minted in the race is dead')
    t.equal((await s.send(ip(99), 'POST', '/api/auth/token/refresh', { refreshToken: a.body.refreshToken })).status, 401)
  }
  for (const g of grants) t.equal((await s.send(ip(99), 'GET', '/api/auth/me', undefined, bearer(g.accessToken))).status, 401)
  t.equal(await s.redis.zcard(`gh:user:{${user.userId}}:tokens`), 0, 'no family left')
})

t.test('logout refuses a bad body with a clear 4xx and ends nothing; without a body it still answers 204', async t => {
  const s = await target(t)
  const user = await signedInUser(s, uniqueEmail('logout-input'))
  const g = await tokenLogin(s, user.email, ip(1))
  const cases: Array<[unknown, number]> = [
    [{ refreshToken: 42 }, 400],
    [{ refreshToken: g.refreshToken, extra: true }, 400],
    [{ refreshToken: '' }, 400],
    [{ refreshToken: 'x'.repeat(129) }, 400],
    [{ refreshToken: [g.refreshToken] }, 400],
    [[g.refreshToken], 400],
    [{ refreshToken: `${g.refreshToken}\u200b` }, 204],
    [{ refreshToken: 'ghr_\u202e' + g.refreshToken.slice(5) }, 204],
    [{ refreshToken: g.refreshToken, pad: 'x'.repeat(20_000) }, 413]
  ]
  for (const [body, status] of cases) {
    const r = await s.send(ip(2), 'POST', '/api/auth/logout', body)
    t.equal(r.status, status, JSON.stringify(body).slice(0, 60).replace(/[^\x20-\x7e]/g, '?'))
    if (status >= 400) t.match(r.headers.get('content-type'), /application\/problem\+json/)
  }
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(g.accessToken))).status, 200, 'the family was not ended by any of them')
  const bare = await fetch(`${s.base}/api/auth/logout`, { method: 'POST' })
  t.equal(bare.status, 204, 'a POST without a body (curl -X POST) is still fine')
})

t.test('a cookie logout from a foreign origin is refused even with a refresh token in the body', async t => {
  const s = await target(t)
  const user = await signedInUser(s, uniqueEmail('csrf-logout'))
  const g = await tokenLogin(s, user.email, ip(1))
  const r = await s.send(ip(1), 'POST', '/api/auth/logout', { refreshToken: g.refreshToken }, { cookie: user.cookie, origin: 'https://evil.example' })
  t.equal(r.status, 403)
  t.equal(r.body.code, 'CSRF_REJECTED')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(g.accessToken))).status, 200, 'the family lives')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie: user.cookie })).status, 200, 'and the session')
})
