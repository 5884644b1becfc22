import t from 'tap'
import { LoginThrottle } from '../../../src/accounts/login-throttle.js'
import { build, signedInUser, uniqueEmail, PASSWORD, request, listen } from '../../helper.js'

const ARGON = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', LOGIN_FREE_FAILURES: '5' }

t.test('the 11th login in a minute from one IP is refused with 429 and Retry-After', async t => {
  const ctx = await build(t, { ...ARGON, LOGIN_RATE_LIMIT: '10' })
  const base = await listen(ctx.app)
  const statuses: number[] = []
  let last
  for (let i = 0; i < 11; i++) {
    // different accounts, so only the per-IP limit can be what stops the 11th
    last = await request(base, 'POST', '/api/auth/login', { body: { email: uniqueEmail('ip'), password: 'wrong password' } })
    statuses.push(last.status)
  }
  t.same(statuses, [...Array(10).fill(401), 429])
  t.equal(last!.body.code, 'RATE_LIMITED')
  t.match(last!.headers.get('content-type'), /application\/problem\+json/)
  const retry = Number(last!.headers.get('retry-after'))
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  const keys = await ctx.redis.keys('gh:rl:*')
  t.ok(keys.length > 0, 'the count lives in Redis, shared by every process')
})

const FOUR_ADDRESSES = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']

/** One failed login for each X-Forwarded-For address, in order, over a real socket: their statuses. */
async function failedLoginsFrom (base: string, addresses: string[]): Promise<number[]> {
  const statuses: number[] = []
  for (const address of addresses) {
    const r = await request(base, 'POST', '/api/auth/login', { body: { email: uniqueEmail('xff'), password: 'wrong password' }, headers: { 'x-forwarded-for': address } })
    statuses.push(r.status)
  }
  return statuses
}

t.test('with TRUST_PROXY off a spoofed X-Forwarded-For does not choose the rate-limit key', async t => {
  const ctx = await build(t, { ...ARGON, LOGIN_RATE_LIMIT: '3' })
  const base = await listen(ctx.app)
  t.same(await failedLoginsFrom(base, FOUR_ADDRESSES), [401, 401, 401, 429], 'every spoofed address shares the socket address\'s count')
})

t.test('with TRUST_PROXY on the client address comes from X-Forwarded-For', async t => {
  const ctx = await build(t, { ...ARGON, LOGIN_RATE_LIMIT: '3', TRUST_PROXY: 'on' })
  const base = await listen(ctx.app)
  t.same(await failedLoginsFrom(base, FOUR_ADDRESSES), [401, 401, 401, 401], 'each forwarded address has its own count')
  t.same(await failedLoginsFrom(base, Array(4).fill('198.51.100.7')), [401, 401, 401, 429], 'one forwarded address is still limited')
})

t.test('with TRUST_PROXY=1 only the hop our proxy appended counts, not what the client wrote before it', async t => {
  const ctx = await build(t, { ...ARGON, LOGIN_RATE_LIMIT: '3', TRUST_PROXY: '1' })
  const base = await listen(ctx.app)
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    // the client forges the first entry; the (one, trusted) proxy appends the real address
    const r = await request(base, 'POST', '/api/auth/login', { body: { email: uniqueEmail('hop'), password: 'wrong password' }, headers: { 'x-forwarded-for': `10.9.9.${i + 1}, 192.0.2.50` } })
    statuses.push(r.status)
  }
  t.same(statuses, [401, 401, 401, 429])
  const other = await request(base, 'POST', '/api/auth/login', { body: { email: uniqueEmail('hop'), password: 'wrong password' }, headers: { 'x-forwarded-for': '10.9.9.1, 192.0.2.51' } })
  t.equal(other.status, 401, 'another real client address has its own count')
})

t.test('failures on one account from many IPs end in a growing, capped back-off; success resets it', async t => {
  const ctx = await build(t, { ...ARGON, TRUST_PROXY: 'on', LOGIN_BACKOFF_BASE: '60' })
  const base = await listen(ctx.app)
  const user = await signedInUser(ctx)
  const attempt = async (i: number, password: string, email = user.email) => await request(base, 'POST', '/api/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` } })

  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await attempt(i, 'not the password')).status)
  t.same(statuses, [401, 401, 401, 401, 401], 'five free failures, each from another address')
  const blocked = await attempt(10, 'not the password')
  t.equal(blocked.status, 429)
  t.equal(blocked.body.code, 'RATE_LIMITED')
  const retry = Number(blocked.headers.get('retry-after'))
  t.ok(retry > 0 && retry <= 60, `Retry-After ${retry}`)
  const right = await attempt(11, PASSWORD)
  t.equal(right.status, 429, 'even the right password waits: the attacker learns nothing from it')

  // The wait ends: an attacker cannot lock the owner out for good. Let the wait run out
  // by moving the deadline (what time would do) and log in with the right password.
  const key = new LoginThrottle(ctx.redis, { prefix: ctx.config.redisKeyPrefix }).key(user.email)
  t.ok((await ctx.redis.pttl(key)) > 0, 'the count expires')
  await ctx.redis.hset(key, 'until', '0')
  const ok = await attempt(12, PASSWORD)
  t.equal(ok.status, 200, 'after the wait the owner gets in')
  t.equal(await ctx.redis.exists(key), 0, 'and the success resets the count')
})

t.test('an unknown account backs off exactly like a known one', async t => {
  const ctx = await build(t, { ...ARGON, LOGIN_BACKOFF_BASE: '60' })
  const known = await signedInUser(ctx)
  const unknown = uniqueEmail('nobody')
  const run = async (email: string): Promise<Array<[number, string, string | undefined]>> => {
    const out: Array<[number, string, string | undefined]> = []
    for (let i = 0; i < 6; i++) {
      const r = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'not the password' }, remoteAddress: `192.0.2.${i + 1}` })
      const body = r.json()
      out.push([r.statusCode, body.code, r.headers['retry-after'] === undefined ? undefined : 'set'])
    }
    return out
  }
  const a = await run(known.email)
  const b = await run(unknown)
  t.same(a, b)
  t.same(a.map(x => x[0]), [401, 401, 401, 401, 401, 429])
})

t.test('two server processes share one account\'s failure count', async t => {
  const first = await build(t, { ...ARGON, LOGIN_BACKOFF_BASE: '60' })
  const { app: second } = await build(t, { ...ARGON, LOGIN_BACKOFF_BASE: '60' }, first.server)
  const email = uniqueEmail('shared')
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const server = i % 2 === 0 ? first.app : second
    statuses.push((await server.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'not the password' } })).statusCode)
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429])
})
