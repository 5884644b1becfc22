import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { loadConfig } from '../src/config.js'

t.test('defaults follow the contract', async t => {
  const c = loadConfig({})
  t.equal(c.port, 3000)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.appOrigin, 'http://localhost:3000')
  t.equal(c.sessionCookieName, 'sessionId')
  t.equal(c.loginRateLimit, 10)
  t.equal(c.mailOutboxDir, 'var/outbox')
  t.equal(c.trustProxy, false)
  t.ok(c.sessionSecret.length >= 32, 'a development secret is generated')
  t.not(loadConfig({}).sessionSecret, c.sessionSecret)
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

t.test('only parsed values are handed out: no raw twin of a parsed variable', async t => {
  const c = loadConfig({ CORS_ORIGINS: 'https://app.example.com', TRUST_PROXY: 'on', REDIS_CLUSTER_NODES: 'a:7000,b:7001', DATA_ENCRYPTION_KEY: 'ab'.repeat(32) })
  for (const key of Object.keys(c)) t.notMatch(key, /^[A-Z0-9_]+$/, `${key} is a setting, not an environment variable`)
  t.same(c.redisClusterNodes, [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }])
  t.equal(c.redisSentinels, undefined)
  t.equal(c.ephemeralKeys, false)
})

t.test('durations are milliseconds, whatever unit the variable is documented in', async t => {
  const c = loadConfig({ SESSION_TTL: '60', LOGIN_BACKOFF_BASE: '2', MAIL_SEND_TIMEOUT_MS: '1500', MFA_CHALLENGE_TTL: '120' })
  t.equal(c.sessionTtlMs, 60_000, 'SESSION_TTL is in seconds')
  t.equal(c.loginBackoffBaseMs, 2000)
  t.equal(c.mfaChallengeTtlMs, 120_000)
  t.equal(c.mailSendTimeoutMs, 1500, 'MAIL_SEND_TIMEOUT_MS is in milliseconds already')
  t.equal(loadConfig({}).sessionAbsoluteTtlMs, 30 * 86_400_000)
})

t.test('what NODE_ENV implies is decided here, as named settings', async t => {
  const dev = loadConfig({})
  t.same([dev.secureCookies, dev.hsts, dev.warnOpenMetrics, dev.ephemeralKeys], [false, false, false, true])
  t.equal(loadConfig({ COOKIE_SAMESITE: 'None' }).secureCookies, true, 'SameSite=None needs Secure anywhere')
  const prod = loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32) })
  t.same([prod.secureCookies, prod.hsts, prod.warnOpenMetrics, prod.ephemeralKeys], [true, true, true, false])
  t.equal(loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), DATA_ENCRYPTION_KEY: 'ab'.repeat(32), METRICS_TOKEN: 'm'.repeat(16) }).warnOpenMetrics, false)
})

t.test('the server refuses to start on a bad variable, with one line on stderr', async t => {
  const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, PORT: 'nope' } }).catch((e: { code: number, stderr: string }) => e)
  t.equal((err as { code: number }).code, 1)
  t.equal((err as { stderr: string }).stderr.trim().split('\n').length, 1)
  t.match((err as { stderr: string }).stderr, /PORT/)
})
