import t from 'tap'
import Fastify, { type HTTPMethods } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { AuthError } from '../../src/http/errors.js'
import { MessageSchema, problems } from '../../src/http/schemas.js'
import { build, signedInUser, startTestRedis } from '../helper.js'
import { allowInlineStyles } from '../../plugins/docs.js'
import { ERRORS } from '../../src/http/errors.js'
import { REQUEST_EXAMPLES } from '../../src/http/openapi-examples.js'
import { TAGS } from '../../src/http/tags.js'

/** Every /api/auth route of CONTRACT.md; those that exist on this build must be documented. */
const CONTRACT_ROUTES: Array<[HTTPMethods, string]> = [
  ['POST', '/register'], ['POST', '/verify-email'], ['POST', '/verify-email/resend'],
  ['POST', '/login'], ['POST', '/mfa/verify'], ['GET', '/me'], ['POST', '/logout'], ['POST', '/logout-all'],
  ['GET', '/sessions'], ['DELETE', '/sessions/:id'],
  ['POST', '/password/forgot'], ['POST', '/password/reset'], ['POST', '/password/change'],
  ['POST', '/2fa/setup'], ['POST', '/2fa/enable'], ['POST', '/2fa/disable'], ['POST', '/2fa/backup-codes'],
  ['POST', '/token'], ['POST', '/token/refresh'],
  ['GET', '/oauth/providers'], ['GET', '/oauth/:provider/start'], ['GET', '/oauth/:provider/callback'], ['POST', '/oauth/:provider/link'], ['POST', '/oauth/complete'],
  ['GET', '/identities'], ['DELETE', '/identities/:id'],
  ['GET', '/activity'],
  ['POST', '/email-code/request'], ['POST', '/email-code/verify'],
  ['PATCH', '/me'], ['DELETE', '/me'], ['POST', '/email/change'], ['POST', '/email/confirm'], ['POST', '/email/cancel'],
  ['POST', '/passkeys/register/options'], ['POST', '/passkeys/register/verify'], ['POST', '/passkeys/login/options'], ['POST', '/passkeys/login/verify'],
  ['POST', '/passkeys/mfa/options'], ['POST', '/passkeys/mfa/verify'], ['GET', '/passkeys'], ['PATCH', '/passkeys/:id'], ['DELETE', '/passkeys/:id'],
  ['POST', '/email-code/request'], ['POST', '/email-code/verify']
]
const PUBLIC = new Set(['/register', '/verify-email', '/verify-email/resend', '/login', '/mfa/verify', '/password/forgot', '/password/reset', '/token', '/token/refresh', '/oauth/providers', '/oauth/:provider/start', '/oauth/:provider/callback', '/oauth/complete', '/passkeys/login/options', '/passkeys/login/verify', '/passkeys/mfa/options', '/passkeys/mfa/verify', '/email/confirm', '/email/cancel', '/email-code/request', '/email-code/verify'])

interface Operation {
  operationId?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ name: string, in: string }>
  requestBody?: { content: Record<string, { schema: unknown, example?: unknown }> }
  responses: Record<string, {
    description: string
    headers?: Record<string, unknown>
    content?: Record<string, { schema: { $ref?: string, allOf?: Array<{ $ref?: string, properties?: { code: { enum: string[] } } }> }, examples?: Record<string, { value: { code: string, status: number } }> }>
  }>
}
interface Doc {
  openapi: string
  info: { title: string, version: string }
  tags: Array<{ name: string }>
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }>, securitySchemes: Record<string, Record<string, string>> }
}

const openapiPath = (p: string): string => '/api/auth' + p.replace(/:(\w+)/g, '{$1}')

function operations (doc: Doc): Array<[string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]))
}

t.test('/openapi.json is an OpenAPI 3.1 document with the cookie and bearer schemes', async t => {
  const ctx = await build(t)
  const res = await ctx.app.inject('/openapi.json')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const doc = res.json() as Doc
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.title, 'Gatehouse')
  t.same(doc.components.securitySchemes.cookie, { type: 'apiKey', in: 'cookie', name: 'sessionId', description: doc.components.securitySchemes.cookie.description })
  t.equal(doc.components.securitySchemes.bearer.type, 'http')
  t.equal(doc.components.securitySchemes.bearer.scheme, 'bearer')
  t.same(doc.components.schemas.Problem.properties.code.enum, Object.keys(ERRORS), 'the Problem schema lists every error code')
  t.ok(doc.paths['/health/live']?.get, 'operational routes are listed')
  t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
})

t.test('every operation has a unique operationId, a known tag and a security requirement', async t => {
  const ctx = await build(t)
  const doc = (await ctx.app.inject('/openapi.json')).json() as Doc
  const ids = new Set<string>()
  const tags = new Set(doc.tags.map(x => x.name))
  for (const [name, op] of operations(doc)) {
    t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${name} has an operationId`)
    t.notOk(ids.has(op.operationId ?? ''), `${name}: ${op.operationId} is unique`)
    ids.add(op.operationId ?? '')
    t.ok(op.tags !== undefined && op.tags.length > 0 && op.tags.every(x => tags.has(x)), `${name} has a described tag`)
    t.ok(Array.isArray(op.security), `${name} says which credentials it takes`)
    for (const [status, r] of Object.entries(op.responses)) t.not(r.description, 'Default Response', `${name} ${status} is described`)
  }
  t.same(Object.values(TAGS).map(x => x.name), doc.tags.map(x => x.name), 'the tags are those of src/http/tags.ts')
})

t.test('named schemas are components, referenced rather than repeated', async t => {
  const ctx = await build(t)
  const doc = (await ctx.app.inject('/openapi.json')).json() as Doc
  for (const name of ['User', 'SessionSummary', 'LoginSuccess', 'MfaChallenge', 'TokenGrant', 'Me', 'SessionInfo', 'SessionList', 'BackupCodes', 'TotpSetup', 'Message', 'Problem', 'OAuthProvider', 'OAuthProviderList', 'OAuthLinkStart', 'Identity', 'IdentityList', 'AdminUser', 'UserPage', 'AdminUserDetail', 'UserAnswer']) {
    t.ok(doc.components.schemas[name], `${name} is a component`)
  }
  const paths = JSON.stringify(doc.paths)
  // mfaEnabled is in the user object only (admin request bodies may set emailVerified).
  t.notMatch(paths, /"mfaEnabled"/, 'the user object appears only as a reference')
  t.notMatch(paths, /"\$id"/, 'no $id is left in the operations')
  const login = doc.paths['/api/auth/login'].post.responses['200'].content?.['application/json'].schema as unknown as { anyOf: Array<{ $ref: string }> }
  t.same(login.anyOf, [{ $ref: '#/components/schemas/LoginSuccess' }, { $ref: '#/components/schemas/MfaChallenge' }], 'login answers LoginSuccess or MfaChallenge')
  t.same(doc.paths['/api/auth/token/refresh'].post.responses['200'].content?.['application/json'].schema, { $ref: '#/components/schemas/TokenGrant' })
})

t.test('every contract route that exists is documented with its security and its own error codes', async t => {
  const ctx = await build(t)
  const doc = (await ctx.app.inject('/openapi.json')).json() as Doc
  const existing = CONTRACT_ROUTES.filter(([method, url]) => ctx.app.hasRoute({ method, url: '/api/auth' + url }))
  t.equal(existing.length, CONTRACT_ROUTES.length, 'every contract route exists')
  const documentedAuthPaths = Object.keys(doc.paths).filter(p => p.startsWith('/api/auth/'))
  t.equal(documentedAuthPaths.length, new Set(existing.map(([, url]) => openapiPath(url))).size, 'no route is missing and none is invented')

  for (const [method, url] of existing) {
    const op = doc.paths[openapiPath(url)]?.[method.toLowerCase()]
    t.ok(op, `${method} ${url} is documented`)
    if (op === undefined) continue
    if (url === '/logout') {
      t.same(op.security, [{ cookie: [] }, { bearer: [] }, {}], 'logout takes the cookie, a bearer token, or nothing')
    } else if (PUBLIC.has(url)) {
      t.same(op.security, [], `${method} ${url} needs no credentials`)
    } else {
      t.same(op.security, [{ cookie: [] }, { bearer: [] }], `${method} ${url} takes the cookie or a bearer token`)
      t.ok(op.responses['401'], `${method} ${url} documents 401`)
    }
    if (method !== 'GET') {
      t.match(op.responses['403']?.description ?? '', /CSRF_REJECTED/, `${method} ${url} documents the cross-site refusal`)
      t.ok(op.responses['415'], `${method} ${url} documents the 415 for a body that is not JSON`)
      t.ok(op.parameters?.some(p => p.in === 'header' && p.name === 'X-CSRF-Token'), `${method} ${url} documents X-CSRF-Token`)
    }
    t.ok(op.responses['503']?.headers?.['Retry-After'], `${method} ${url} documents 503 with Retry-After`)
    if (op.responses['429'] !== undefined) t.ok(op.responses['429'].headers?.['Retry-After'], `${method} ${url}: 429 with Retry-After`)
    const statuses = Object.keys(op.responses).map(Number)
    // A redirect is the success of the routes a browser navigates to (the provider sign-in).
    t.ok(statuses.some(s => s < 400), `${method} ${url} documents its success`)
    for (const status of statuses.filter(s => s >= 400)) {
      const media = op.responses[String(status)].content?.['application/problem+json']
      const schema = media?.schema
      t.equal(schema?.allOf?.[0].$ref, '#/components/schemas/Problem', `${method} ${url} ${status} is a problem document`)
      const codes = schema?.allOf?.[1].properties?.code.enum ?? []
      t.ok(codes.length > 0, `${method} ${url} ${status} names its codes`)
      for (const code of codes) {
        t.equal(ERRORS[code as keyof typeof ERRORS]?.status, status, `${code} answers with ${status}`)
        t.equal(media?.examples?.[code]?.value.code, code, `${method} ${url} ${status} shows an example of ${code}`)
      }
    }
  }
  const codesOf = (path: string, method: string, status: number): string[] =>
    doc.paths[path][method].responses[String(status)]?.content?.['application/problem+json'].schema.allOf?.[1].properties?.code.enum ?? []
  t.same(codesOf('/api/auth/login', 'post', 401), ['INVALID_CREDENTIALS', 'INVALID_MFA_CODE'])
  t.same(codesOf('/api/auth/login', 'post', 403), ['EMAIL_NOT_VERIFIED', 'ACCOUNT_DISABLED', 'CSRF_REJECTED'])
  t.same(codesOf('/api/auth/me', 'get', 401), ['UNAUTHENTICATED'], '/me cannot answer INVALID_MFA_CODE')
  t.match(doc.paths['/api/auth/login'].post.responses['200'].headers, { 'Set-Cookie': {} }, 'login documents Set-Cookie')
  t.match(JSON.stringify(doc.paths['/api/auth/login'].post.requestBody), /One of `email` and `username` is required/)
})

t.test('the request examples are accepted by the routes they document', async t => {
  const ctx = await build(t)
  const doc = (await ctx.app.inject('/openapi.json')).json() as Doc
  const { cookie } = await signedInUser(ctx)
  let checked = 0
  for (const [key, example] of Object.entries(REQUEST_EXAMPLES)) {
    const [method, url] = key.split(' ') as [HTTPMethods, string]
    if (!ctx.app.hasRoute({ method, url })) continue
    checked++
    t.same(doc.paths[url][method.toLowerCase()].requestBody?.content['application/json'].example, example, `${key} shows its example`)
    const res = await ctx.app.inject({ method, url, payload: example as object, headers: { cookie } })
    t.not(res.json().code, 'VALIDATION_FAILED', `${key}: the example passes validation (${res.statusCode})`)
  }
  t.ok(checked >= 4, `${checked} examples checked`)
})

t.test('/docs serves the interactive reference', async t => {
  const ctx = await build(t)
  const res = await ctx.app.inject('/docs/')
  t.equal(res.statusCode, 200)
  t.match(res.body, /swagger-ui/i)
  const init = await ctx.app.inject('/docs/json')
  t.equal(init.json().openapi, '3.1.0')
})

t.test('on /docs a Content-Security-Policy is relaxed for inline styles only', async t => {
  t.equal(allowInlineStyles("default-src 'self';script-src 'self';style-src 'self'"), "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline'")
  t.equal(allowInlineStyles("default-src 'self';script-src 'self'"), "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline'")
  t.equal(allowInlineStyles("style-src 'self' 'unsafe-inline'"), "style-src 'self' 'unsafe-inline'")
  t.equal(allowInlineStyles("img-src 'self'"), "img-src 'self'", 'no style or default directive: unchanged')
})

t.test('under test, a problem code the route did not declare turns the answer into a 500', async t => {
  const server = await startTestRedis(t)
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_URL: server.url })
  const fastify = Fastify(serverOptions(config))
  t.teardown(async () => await fastify.close())
  await fastify.register(fp(app), { config })
  fastify.get('/declared', { schema: { security: [], response: { 200: MessageSchema, ...problems('NOT_FOUND') } } }, async () => {
    throw new AuthError('NOT_FOUND')
  })
  fastify.get('/undeclared', { schema: { security: [], response: { 200: MessageSchema, ...problems('NOT_FOUND') } } }, async () => {
    throw new AuthError('INVALID_TOKEN')
  })
  await fastify.ready()
  const declared = await fastify.inject('/declared')
  t.equal(declared.statusCode, 404)
  t.equal(declared.json().code, 'NOT_FOUND')
  const undeclared = await fastify.inject('/undeclared')
  t.equal(undeclared.statusCode, 500)
  t.equal(undeclared.json().code, 'INTERNAL')
  t.match(undeclared.json().detail, /GET \/undeclared answered 400 INVALID_TOKEN/)
})
