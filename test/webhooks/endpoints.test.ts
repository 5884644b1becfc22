import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { tempDir } from '../helper.js'
import { webhookSecret } from '../support/webhook-receiver.js'

/* WEBHOOKS as loadConfig reads it: what starts, and the one-line refusals of what does not. */

const secret = webhookSecret()
const PRODUCTION = { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32), DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), METRICS_TOKEN: 'm'.repeat(16) }

const load = (webhooks: unknown, env: Record<string, string> = {}) =>
  loadConfig({ NODE_ENV: 'test', WEBHOOKS: typeof webhooks === 'string' ? webhooks : JSON.stringify(webhooks), ...env })

t.test('a valid list is parsed: URL, signer, event filter, a stable id per URL', async t => {
  const c = load([{ url: 'https://hooks.example.com/a', secret, events: ['user.signed_up', 'user.deleted'] }, { url: 'https://hooks.example.com/b', secret, events: ['*'] }])
  t.equal(c.webhooks.length, 2)
  t.equal(c.webhooks[0].url, 'https://hooks.example.com/a')
  t.same([...c.webhooks[0].events ?? []], ['user.signed_up', 'user.deleted'])
  t.equal(c.webhooks[1].events, null, '["*"] is every event')
  t.match(c.webhooks[0].id, /^[0-9a-f]{16}$/)
  t.not(c.webhooks[0].id, c.webhooks[1].id)
  t.same(loadConfig({ NODE_ENV: 'test' }).webhooks, [], 'none by default')
})

t.test('@path reads the list from a file', async t => {
  const dir = await tempDir(t, 'webhooks')
  const file = join(dir, 'webhooks.json')
  await writeFile(file, JSON.stringify([{ url: 'https://hooks.example.com/x', secret, events: ['*'] }]))
  t.equal(load(`@${file}`).webhooks[0].url, 'https://hooks.example.com/x')
  t.throws(() => load(`@${join(dir, 'missing.json')}`), /WEBHOOKS cannot read/)
})

t.test('a bad list is refused at start with one line that names the problem and never the secret', async t => {
  const cases: Array<[unknown, RegExp]> = [
    ['not json', /not valid JSON/],
    [{ url: 'https://a.example' }, /must be a JSON array/],
    [[{ url: 'https://a.example', events: ['*'] }], /entry 0: secret/],
    [[{ url: 'https://a.example', secret: 'plain-secret-0123456789abcdef', events: ['*'] }], /entry 0: secret must be a Standard Webhooks secret/],
    [[{ url: 'https://a.example', secret: 'whsec_c2hvcnQ=', events: ['*'] }], /entry 0: secret is too short/],
    [[{ url: 'https://a.example', secret: 'whsec_not!base64', events: ['*'] }], /entry 0: secret must be a Standard Webhooks secret/],
    [[{ url: 'ftp://a.example', secret, events: ['*'] }], /entry 0: url must be http or https/],
    [[{ url: 'not a url', secret, events: ['*'] }], /entry 0: url is not a URL/],
    [[{ url: 'https://user:pw@a.example', secret, events: ['*'] }], /entry 0: url must not hold credentials/],
    [[{ url: 'https://a.example', secret, events: [] }], /entry 0: events/],
    [[{ url: 'https://a.example', secret, events: ['user.signed_up', 'nope.nope'] }], /entry 0: events has an unknown event type "nope.nope"/],
    [[{ url: 'https://a.example', secret, events: ['*', 'user.signed_up'] }], /entry 0: events is either \["\*"\]/],
    [[{ url: 'https://a.example', secret, events: ['*'], extra: 1 }], /entry 0: .*(extra|additional)/i],
    [[{ url: 'https://a.example/', secret, events: ['*'] }, { url: 'https://a.example/', secret, events: ['*'] }], /entry 1: url https:\/\/a.example\/ is listed twice/]
  ]
  for (const [value, message] of cases) {
    let error: Error | undefined
    try { load(value) } catch (err) { error = err as Error }
    t.match(error?.message, message, JSON.stringify(value).slice(0, 80))
    t.match(error?.message, /^invalid configuration: WEBHOOKS /)
    t.notOk(error?.message.includes(secret.slice(6, 20)), 'the secret is not echoed')
    t.notOk(error?.message.includes('plain-secret'), 'not even a malformed one')
  }
})

t.test('in production, URLs on loopback, private and link-local addresses are refused unless allowed', async t => {
  for (const url of ['http://127.0.0.1:8080/hook', 'http://10.1.2.3/hook', 'https://192.168.0.10/hook', 'http://169.254.169.254/latest', 'http://[::1]/hook', 'http://[fd00::1]/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://0.0.0.0/hook']) {
    t.throws(() => load([{ url, secret, events: ['*'] }], PRODUCTION), /loopback or private address, refused in production/, url)
    t.equal(load([{ url, secret, events: ['*'] }], { ...PRODUCTION, WEBHOOK_ALLOW_PRIVATE: 'true' }).webhooks.length, 1, `${url} with WEBHOOK_ALLOW_PRIVATE`)
    t.equal(load([{ url, secret, events: ['*'] }], { NODE_ENV: 'development' }).webhooks.length, 1, `${url} in development`)
  }
  t.equal(load([{ url: 'https://hooks.example.com/x', secret, events: ['*'] }], PRODUCTION).webhookAllowPrivate, false, 'names are checked at delivery')
  t.equal(loadConfig({ NODE_ENV: 'development' }).webhookAllowPrivate, true)
})

t.test('the claim time must exceed the attempt timeout', async t => {
  t.throws(() => loadConfig({ NODE_ENV: 'test', WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_CLAIM_MS: '5000' }), /WEBHOOK_CLAIM_MS must exceed WEBHOOK_TIMEOUT_MS/)
  t.throws(() => loadConfig({ NODE_ENV: 'test', WEBHOOK_RETRY_BASE_MS: '0' }), /WEBHOOK_RETRY_BASE_MS/)
})
