import t from 'tap'
import { build, PASSWORD, signedInUser, uniqueEmail } from '../helper.js'
import type { Redis } from 'ioredis'

/** Every key and value except rate-limit counters: what a refused request must not change. */
async function snapshot (redis: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const key of (await redis.keys('*')).filter(k => !k.startsWith('gh:rl:')).sort()) {
    const type = await redis.type(key)
    const read: Record<string, () => Promise<unknown>> = {
      string: async () => await redis.get(key),
      hash: async () => await redis.hgetall(key),
      zset: async () => await redis.zrange(key, 0, -1, 'WITHSCORES'),
      stream: async () => await redis.xrange(key, '-', '+'),
      set: async () => (await redis.smembers(key)).sort()
    }
    out[key] = JSON.stringify(await (read[type] ?? read.set)())
  }
  return out
}

const routes: Array<{ url: string, valid: Record<string, unknown> }> = [
  { url: '/api/auth/register', valid: { email: 'new@example.com', password: PASSWORD } },
  { url: '/api/auth/verify-email', valid: { token: 'A'.repeat(43) } },
  { url: '/api/auth/verify-email/resend', valid: { email: 'new@example.com' } },
  { url: '/api/auth/login', valid: { email: 'new@example.com', password: PASSWORD } }
]

t.test('bad input answers a clear 4xx and changes nothing stored', async t => {
  const ctx = await build(t)
  const { app } = ctx
  await signedInUser(ctx)

  for (const { url, valid } of routes) {
    t.test(url, async t => {
      const field = Object.keys(valid)[0]
      const cases: Array<[string, unknown, number, string]> = [
        ['wrong type', { ...valid, [field]: 12345 }, 400, 'VALIDATION_FAILED'],
        ['array instead of object', [valid], 400, 'VALIDATION_FAILED'],
        ['null body', null, 400, 'VALIDATION_FAILED'],
        ['missing field', Object.fromEntries(Object.entries(valid).slice(1)), 400, 'VALIDATION_FAILED'],
        ['extra field', { ...valid, isAdmin: true }, 400, 'VALIDATION_FAILED'],
        ['nested object', { ...valid, [field]: { $gt: '' } }, 400, 'VALIDATION_FAILED'],
        ['huge string', { ...valid, [field]: 'a'.repeat(10_000) }, 400, 'VALIDATION_FAILED']
      ]
      const before = await snapshot(ctx.redis)
      for (const [name, payload, status, code] of cases) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
        t.equal(res.statusCode, status, name)
        t.equal(res.json().code, code, name)
        t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
        t.notMatch(res.body, /at .*\.(ts|js):\d+|ReplyError|ERR /, 'no stack or Redis message')
      }
      const extra = await app.inject({ method: 'POST', url, payload: { ...valid, isAdmin: true } })
      t.match(extra.json(), { fieldErrors: { isAdmin: ['is not allowed'] }, formErrors: [] }, 'the unknown field is named')
      const missing = await app.inject({ method: 'POST', url, payload: {} })
      t.ok(Object.keys(missing.json().fieldErrors).length > 0 || missing.json().formErrors.length > 0)

      const big = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...valid, pad: 'x'.repeat(1024 * 1024) }) })
      t.equal(big.statusCode, 413, '1 MB body')
      t.equal(big.json().code, 'PAYLOAD_TOO_LARGE')

      const proto = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: `{"__proto__":{"role":"admin"},${JSON.stringify(valid).slice(1)}` })
      t.equal(proto.statusCode, 400, '__proto__ key')
      t.equal(proto.json().code, 'VALIDATION_FAILED')
      const ctor = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: `{"constructor":{"prototype":{"role":"admin"}},${JSON.stringify(valid).slice(1)}` })
      t.equal(ctor.statusCode, 400, 'constructor.prototype key')

      const broken = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"email": "a@b.c", ' })
      t.equal(broken.statusCode, 400)
      t.equal(broken.json().code, 'VALIDATION_FAILED')

      const form = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a@b.c' })
      t.equal(form.statusCode, 415)
      t.equal(form.json().code, 'UNSUPPORTED_MEDIA_TYPE')

      const invalidUtf8 = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: Buffer.concat([Buffer.from(`{"${field}":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]) })
      t.ok(invalidUtf8.statusCode >= 400 && invalidUtf8.statusCode < 500, 'invalid UTF-8 is a 4xx')

      t.same(await snapshot(ctx.redis), before, 'nothing stored changed')
    })
  }

  t.test('odd Unicode is handled, never a 5xx', async t => {
    const odd = ['\u0000', '\u202e', '\ud83d', '𝔞𝔡𝔪𝔦𝔫@example.com', 'ａｄｍｉｎ@ｅｘａｍｐｌｅ.ｃｏｍ', 'e\u0301@example.com', '\uFEFFuser@example.com']
    for (const s of odd) {
      for (const payload of [{ email: s, password: PASSWORD }, { email: uniqueEmail(), password: `${s}${s}${s}${s}${s}${s}${s}${s}` }]) {
        const reg = await app.inject({ method: 'POST', url: '/api/auth/register', payload })
        t.ok(reg.statusCode === 202 || reg.statusCode === 400, `register ${JSON.stringify(s)} -> ${reg.statusCode}`)
        const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload })
        t.ok([400, 401, 403].includes(login.statusCode), `login ${JSON.stringify(s)} -> ${login.statusCode}`)
      }
    }
    // fullwidth letters normalise to the ASCII address (NFKC), so they are one account
    await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: 'admin@example.org', password: PASSWORD } })
    const users = (await app.users.list()).filter(u => u.email === 'admin@example.org')
    t.equal(users.length, 1)
    const again = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: 'ａｄｍｉｎ@ｅｘａｍｐｌｅ.ｏｒｇ', password: PASSWORD } })
    t.equal(again.statusCode, 202)
    t.equal((await app.users.list()).filter(u => u.email === 'admin@example.org').length, 1, 'no second account under a look-alike address')
  })

  t.test('unknown routes and methods get problem documents', async t => {
    const res = await app.inject({ url: '/api/auth/nope' })
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 'NOT_FOUND')
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  })
})
