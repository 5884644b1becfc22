import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { loadConfig } from '../src/config.js'

t.test('defaults follow the contract', async t => {
  const c = loadConfig({})
  t.equal(c.PORT, 3000)
  t.equal(c.HOST, '127.0.0.1')
  t.equal(c.appOrigin, 'http://localhost:3000')
  t.equal(c.SESSION_COOKIE_NAME, 'sessionId')
  t.equal(c.LOGIN_RATE_LIMIT, 10)
  t.equal(c.MAIL_OUTBOX_DIR, 'var/outbox')
  t.equal(c.trustProxy, false)
  t.ok(c.SESSION_SECRET.length >= 32, 'a development secret is generated')
  t.not(loadConfig({}).SESSION_SECRET, c.SESSION_SECRET)
})

t.test('a bad value is refused with one line naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^invalid configuration: PORT /],
    [{ PORT: '70000' }, /PORT/],
    [{ NODE_ENV: 'production' }, /SESSION_SECRET is required/],
    [{ SESSION_SECRET: 'short' }, /SESSION_SECRET/],
    [{ COOKIE_SAMESITE: 'sometimes' }, /COOKIE_SAMESITE/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ CORS_ORIGINS: 'not a url' }, /CORS_ORIGINS/],
    [{ LOGIN_RATE_LIMIT: '0' }, /LOGIN_RATE_LIMIT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/]
  ]
  for (const [env, re] of cases) {
    t.throws(() => loadConfig(env), re, JSON.stringify(env))
    try { loadConfig(env) } catch (err) { t.notMatch((err as Error).message, /\n/, 'one line') }
  }
})

t.test('lists and proxies are parsed', async t => {
  const c = loadConfig({ CORS_ORIGINS: 'https://app.example.com,http://localhost:5173', TRUST_PROXY: '2' })
  t.same(c.corsOrigins, ['https://app.example.com', 'http://localhost:5173'])
  t.equal(c.trustProxy, 2)
  t.equal(loadConfig({ TRUST_PROXY: 'on' }).trustProxy, true)
})

t.test('the server refuses to start on a bad variable, with one line on stderr', async t => {
  const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, PORT: 'nope' } }).catch((e: { code: number, stderr: string }) => e)
  t.equal((err as { code: number }).code, 1)
  t.equal((err as { stderr: string }).stderr.trim().split('\n').length, 1)
  t.match((err as { stderr: string }).stderr, /PORT/)
})
