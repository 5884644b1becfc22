import t from 'tap'
import { request as httpRequest } from 'node:http'
import { COMMON_PASSWORD_COUNT } from '../../src/accounts/passwords.js'
import { appRoutes, build, signedInUser, tokenFromOutbox, uniqueEmail, PASSWORD, request, listen } from '../helper.js'

const ARGON = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }

/** Sends `total` bytes chunked (no Content-Length) and returns the status the server answered. */
async function chunked (base: string, path: string, total: number): Promise<number> {
  const url = new URL(path, base)
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close the connection while we are still writing: that is the point.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let sent = 0
    const write = (): void => {
      while (sent < total) {
        sent += chunk.length
        if (!req.write(sent === chunk.length ? Buffer.concat([Buffer.from('{"email":"'), chunk]) : chunk)) { req.once('drain', write); return }
      }
      req.end()
    }
    write()
  })
}

t.test('hostile bodies', async t => {
  const ctx = await build(t, ARGON)
  const base = await listen(ctx.app)
  const user = await signedInUser(ctx)
  const json = async (path: string, raw: string | Uint8Array<ArrayBuffer>, contentType = 'application/json') => await request(base, 'POST', path, { raw, headers: { 'content-type': contentType } })

  t.test('__proto__ and constructor.prototype keys are refused with 400 and pollute nothing', async t => {
    for (const raw of [
      `{"email":"${user.email}","password":"${PASSWORD}","__proto__":{"role":"admin"}}`,
      `{"email":"${user.email}","password":"${PASSWORD}","constructor":{"prototype":{"role":"admin"}}}`,
      '{"email":"a@b.cd","password":"xxxxxxxx","nested":{"__proto__":{"polluted":true}}}'
    ]) {
      const r = await json('/api/auth/login', raw)
      t.equal(r.status, 400, raw.slice(-40))
      t.equal(r.body.code, 'VALIDATION_FAILED')
    }
    const ctor = await json('/api/auth/register', `{"email":"${uniqueEmail()}","password":"${PASSWORD}","constructor":1,"toString":2,"hasOwnProperty":3}`)
    t.equal(ctor.status, 400, 'a plain constructor key is an unknown field like any other')
    t.same(ctor.body.fieldErrors, { constructor: ['is not allowed'], toString: ['is not allowed'], hasOwnProperty: ['is not allowed'] })
    t.equal(({} as Record<string, unknown>).polluted, undefined)
    t.equal(({} as Record<string, unknown>).role, undefined)
  })

  t.test('a 1 MB body is refused with 413, with or without Content-Length', async t => {
    const big = JSON.stringify({ email: user.email, password: 'x'.repeat(1024 * 1024) })
    const r = await json('/api/auth/login', big)
    t.equal(r.status, 413)
    t.equal(r.body.code, 'PAYLOAD_TOO_LARGE')
    t.equal(await chunked(base, '/api/auth/register', 1024 * 1024), 413, 'chunked, no Content-Length')
    const just = JSON.stringify({ email: 'a@b.cd', password: 'x'.repeat(16 * 1024) })
    t.equal((await json('/api/auth/login', just)).status, 413, 'just over 16 KiB')
    const me = await request(base, 'GET', '/api/auth/me', { headers: { cookie: user.cookie } })
    t.equal(me.status, 200, 'the server is fine afterwards')
  })

  t.test('deeply nested JSON under the size limit is a 400, not a crash', async t => {
    const depth = 2500
    const objects = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
    const arrays = '['.repeat(8000) + ']'.repeat(8000)
    for (const raw of [objects, arrays, `{"email":${arrays},"password":"xxxxxxxx"}`]) {
      t.ok(raw.length < 16 * 1024)
      const r = await json('/api/auth/login', raw)
      t.equal(r.status, 400)
      t.equal(r.body.code, 'VALIDATION_FAILED')
    }
  })

  t.test('invalid UTF-8 is refused with 400', async t => {
    const bad = Buffer.concat([Buffer.from(`{"email":"${user.email}","password":"`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')])
    const r = await json('/api/auth/login', new Uint8Array(bad))
    t.equal(r.status, 400)
    t.same(r.body.formErrors, ['body is not valid UTF-8'])
    const surrogate = Buffer.concat([Buffer.from('{"email":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('@x.io","password":"xxxxxxxx"}')])
    t.equal((await json('/api/auth/login', new Uint8Array(surrogate))).status, 400, 'an encoded surrogate')
  })

  t.test('anything but JSON is refused with 415; malformed JSON with 400', async t => {
    const body = `{"email":"${user.email}","password":"${PASSWORD}"}`
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const r = await json('/api/auth/login', body, type)
      t.equal(r.status, 415, type)
      t.equal(r.body.code, 'UNSUPPORTED_MEDIA_TYPE')
    }
    t.equal((await json('/api/auth/login', body, 'application/json; charset=utf-8')).status, 200, 'JSON with a charset is fine')
    for (const raw of ['{"email":', 'null', '[]', '"x"', '1e999', '']) {
      const r = await json('/api/auth/login', raw)
      t.equal(r.status, 400, JSON.stringify(raw))
      t.equal(r.body.code, 'VALIDATION_FAILED')
      t.notMatch(r.text, /SyntaxError|Unexpected|at position/, 'no parser message echoed')
    }
  })

  t.test('unknown fields and wrong types are refused with 400, never coerced', async t => {
    const extra = await request(base, 'POST', '/api/auth/register', { body: { email: uniqueEmail(), password: PASSWORD, role: 'admin' } })
    t.equal(extra.status, 400)
    t.same(extra.body.fieldErrors, { role: ['is not allowed'] })
    const number = await request(base, 'POST', '/api/auth/login', { body: { email: user.email, password: 12345678 } })
    t.equal(number.status, 400)
    const array = await request(base, 'POST', '/api/auth/login', { body: { email: [user.email], password: PASSWORD } })
    t.equal(array.status, 400)
  })
})

t.test('password policy', async t => {
  const ctx = await build(t, ARGON)
  const register = async (password: string, email = uniqueEmail('pw')) => await ctx.app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password } })

  t.ok(COMMON_PASSWORD_COUNT >= 10000, `a real common-password list (${COMMON_PASSWORD_COUNT} entries, @zxcvbn-ts/language-common)`)
  for (const common of ['iloveyou', 'password1', 'Password123', 'ＰＡＳＳＷＯＲＤ１']) {
    const r = await register(common)
    t.equal(r.statusCode, 400, common)
    t.match(r.json().fieldErrors.password[0], /too common/)
  }
  t.equal((await register('short7!')).statusCode, 400, 'under 8 characters')
  t.equal((await register('x'.repeat(129))).statusCode, 400, 'over 128 characters')
  t.same(await ctx.redis.keys('gh:user:*'), [], 'none of those created a user')

  t.test('an over-long password is refused by the schema before any hashing or throttle count', async t => {
    const r = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'victim@example.com', password: 'p'.repeat(10000) } })
    t.equal(r.statusCode, 400)
    t.same(r.json().fieldErrors, { password: ['must NOT have more than 128 characters'] })
    t.same(await ctx.redis.keys('gh:login-throttle:*'), [], 'the handler never ran: nothing was hashed or counted')
  })

  t.test('passwords are NFKC-normalised: the same password typed differently still matches', async t => {
    const email = uniqueEmail('nfkc')
    const fullwidth = 'ｃｏｒｒｅｃｔ　ｈｏｒｓｅ　ｂａｔｔｅｒｙ'
    t.equal((await register(fullwidth, email)).statusCode, 202)
    const token = await tokenFromOutbox(ctx.outbox, email, 'verify-email')
    t.equal((await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })).statusCode, 200)
    const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: 'correct horse battery' } })
    t.equal(login.statusCode, 200)
  })
})

t.test('every route\'s schemas are closed objects with bounded strings', async t => {
  const routes = await appRoutes(t)

  const problems: string[] = []
  const walk = (schema: any, where: string): void => {
    if (schema === null || typeof schema !== 'object') return
    if (schema.type === 'object') {
      if (schema.additionalProperties !== false) problems.push(`${where}: open object`)
      for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${where}.${k}`)
    }
    // An anchored pattern without * + or {n,} bounds the length as well as maxLength does.
    const boundedPattern = typeof schema.pattern === 'string' && /^\^.*\$$/.test(schema.pattern) && !/[*+]|\{\d+,\d*\}/.test(schema.pattern)
    if (schema.type === 'string' && schema.maxLength === undefined && !boundedPattern && schema.enum === undefined && schema.const === undefined) problems.push(`${where}: unbounded string`)
    if (schema.type === 'array') {
      if (schema.maxItems === undefined) problems.push(`${where}: unbounded array`)
      walk(schema.items, `${where}[]`)
    }
    for (const k of ['anyOf', 'oneOf', 'allOf']) for (const [i, s] of (schema[k] ?? []).entries()) walk(s, `${where}|${i}`)
  }
  let checked = 0
  for (const r of routes) {
    const methods = Array.isArray(r.method) ? r.method : [r.method]
    if (!methods.some(m => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m))) continue
    const schema = r.schema as Record<string, unknown> | undefined
    for (const part of ['body', 'querystring', 'params'] as const) {
      if (schema?.[part] !== undefined) { walk(schema[part], `${methods.join(',')} ${r.url} ${part}`); checked++ }
    }
  }
  t.ok(checked >= 3, `${checked} request schemas checked`)
  t.same(problems, [])
})
