import { test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseProviders } from '../../src/oauth/providers.js'
import { ConfigError, loadConfig } from '../../src/config.js'

const dev = { production: false }
const prod = { production: true }

test('presets fill in the known endpoints; the entry\'s own fields win', async (t) => {
  const [google, github, gitlab, ms, generic] = parseProviders(JSON.stringify([
    { id: 'google', preset: 'google', clientId: 'g', clientSecret: 's' },
    { id: 'github', preset: 'github', clientId: 'h', clientSecret: 's' },
    { id: 'gitlab', preset: 'gitlab', clientId: 'l', clientSecret: 's', name: 'Our GitLab' },
    { id: 'ms', preset: 'microsoft', tenant: 'contoso.onmicrosoft.com', clientId: 'm', clientSecret: 's' },
    { id: 'kc', preset: 'oidc', name: 'Keycloak', issuer: 'https://sso.example.com/realms/main', clientId: 'k', clientSecret: 's', scopes: ['openid', 'email'] }
  ]), prod)
  t.match(google, { kind: 'oidc', name: 'Google', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'], emailVerifiedClaim: 'email_verified' })
  t.match(github, { kind: 'oauth2', name: 'GitHub', issuer: 'https://github.com', tokenUrl: 'https://github.com/login/oauth/access_token', emailsUrl: 'https://api.github.com/user/emails', subjectField: 'id' })
  t.match(gitlab, { kind: 'oidc', name: 'Our GitLab', issuer: 'https://gitlab.com' })
  t.match(ms, { kind: 'oidc', issuer: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0', emailVerifiedClaim: 'xms_edov' }, 'Microsoft\'s email counts as verified only with xms_edov')
  t.match(generic, { kind: 'oidc', name: 'Keycloak', scopes: ['openid', 'email'] })
  t.equal(parseProviders(JSON.stringify([{ id: 'ms', preset: 'microsoft', clientId: 'm' }]), prod)[0].issuer, 'https://login.microsoftonline.com/common/v2.0')
})

test('plain http is refused unless outside production and marked local', async (t) => {
  const entry = { id: 'local', issuer: 'http://127.0.0.1:8080', clientId: 'c', clientSecret: 's' }
  t.throws(() => parseProviders(JSON.stringify([entry]), dev), /issuer must be https \(or http with "local": true\)/)
  t.equal(parseProviders(JSON.stringify([{ ...entry, local: true }]), dev)[0].issuer, 'http://127.0.0.1:8080')
  t.throws(() => parseProviders(JSON.stringify([{ ...entry, local: true }]), prod), /issuer must be https$/)
  t.throws(() => parseProviders(JSON.stringify([{ id: 'o', authorizationUrl: 'https://a.example/auth', tokenUrl: 'http://a.example/token', userinfoUrl: 'https://a.example/me', clientId: 'c' }]), prod), /tokenUrl must be https/)
})

test('bad entries stop start-up with one line that never shows a secret', async (t) => {
  const secret = 'super-secret-value-123'
  const cases: Array<[unknown, RegExp]> = [
    [[{ id: 'x', issuer: 'https://a.example', clientId: 'c', clientSecret: secret, extra: 1 }], /entry 0/],
    [[{ id: 'x', clientId: 'c', clientSecret: secret }], /needs "issuer"/],
    [[{ id: 'x', authorizationUrl: 'https://a.example/a', clientId: 'c', clientSecret: secret }], /needs authorizationUrl, tokenUrl and userinfoUrl/],
    [[{ id: 'Bad Id', issuer: 'https://a.example', clientId: 'c', clientSecret: secret }], /entry 0: id/],
    [[{ id: 'x', issuer: 'https://a.example', clientId: 'c' }, { id: 'x', issuer: 'https://b.example', clientId: 'c' }], /used twice/],
    [[{ id: 'x', issuer: 'https://a.example', clientId: 'c', clientSecret: secret, scopes: 'openid' }], /scopes/],
    [{ id: 'x' }, /must be a JSON array/]
  ]
  for (const [value, re] of cases) {
    let message = ''
    try {
      loadConfig({ NODE_ENV: 'test', OAUTH_PROVIDERS: JSON.stringify(value) })
    } catch (err) {
      t.ok(err instanceof ConfigError)
      message = (err as Error).message
    }
    t.match(message, /^invalid configuration: OAUTH_PROVIDERS /)
    t.match(message, re)
    t.notOk(message.includes(secret), `no secret in "${message}"`)
    t.notOk(message.includes('\n'), 'one line')
  }
  t.throws(() => loadConfig({ NODE_ENV: 'test', OAUTH_PROVIDERS: '{not json' }), /OAUTH_PROVIDERS is not valid JSON/)
})

test('OAUTH_PROVIDERS=@path reads the JSON from a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-oauth-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'providers.json')
  await writeFile(file, JSON.stringify([{ id: 'google', preset: 'google', clientId: 'g', clientSecret: 's' }]))
  t.equal(loadConfig({ NODE_ENV: 'test', OAUTH_PROVIDERS: `@${file}` }).oauthProviders[0].issuer, 'https://accounts.google.com')
  t.throws(() => loadConfig({ NODE_ENV: 'test', OAUTH_PROVIDERS: `@${join(dir, 'missing.json')}` }), /OAUTH_PROVIDERS cannot read/)
  t.same(loadConfig({ NODE_ENV: 'test' }).oauthProviders, [], 'none by default')
})
