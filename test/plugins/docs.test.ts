import t from 'tap'
import type { HTTPMethods } from 'fastify'
import { build, signedInUser } from '../helper.js'
import { allowInlineStyles } from '../../plugins/docs.js'
import { ERRORS } from '../../src/http/errors.js'
import { REQUEST_EXAMPLES } from '../../src/http/openapi-examples.js'

/** Every /api/auth route of CONTRACT.md; those that exist on this build must be documented. */
const CONTRACT_ROUTES: Array<[HTTPMethods, string]> = [
  ['POST', '/register'], ['POST', '/verify-email'], ['POST', '/verify-email/resend'],
  ['POST', '/login'], ['POST', '/mfa/verify'], ['GET', '/me'], ['POST', '/logout'], ['POST', '/logout-all'],
  ['GET', '/sessions'], ['DELETE', '/sessions/:id'],
  ['POST', '/password/forgot'], ['POST', '/password/reset'], ['POST', '/password/change'],
  ['POST', '/2fa/setup'], ['POST', '/2fa/enable'], ['POST', '/2fa/disable'], ['POST', '/2fa/backup-codes'],
  ['POST', '/token'], ['POST', '/token/refresh'],
  ['GET', '/oauth/providers'], ['GET', '/oauth/:provider/start'], ['GET', '/oauth/:provider/callback'], ['POST', '/oauth/:provider/link'], ['POST', '/oauth/complete'],
  ['GET', '/identities'], ['DELETE', '/identities/:id']
]
const PUBLIC = new Set(['/register', '/verify-email', '/verify-email/resend', '/login', '/mfa/verify', '/logout', '/password/forgot', '/password/reset', '/token', '/token/refresh', '/oauth/providers', '/oauth/:provider/start', '/oauth/:provider/callback', '/oauth/complete'])

type Doc = {
  openapi: string
  info: { title: string, version: string }
  paths: Record<string, Record<string, {
    security?: Array<Record<string, string[]>>
    requestBody?: { content: Record<string, { schema: unknown, example?: unknown }> }
    responses: Record<string, { description: string, content?: Record<string, { schema: { $ref?: string } }> }>
  }>>
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }>, securitySchemes: Record<string, Record<string, string>> }
}

const openapiPath = (p: string): string => '/api/auth' + p.replace(/:(\w+)/g, '{$1}')

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

t.test('every contract route that exists is documented with its security and its error codes', async t => {
  const ctx = await build(t)
  const doc = (await ctx.app.inject('/openapi.json')).json() as Doc
  const existing = CONTRACT_ROUTES.filter(([method, url]) => ctx.app.hasRoute({ method, url: '/api/auth' + url }))
  t.ok(existing.length >= 6, `the core routes exist (${existing.length} found)`)
  const documentedAuthPaths = Object.keys(doc.paths).filter(p => p.startsWith('/api/auth/'))
  t.equal(documentedAuthPaths.length, new Set(existing.map(([, url]) => openapiPath(url))).size, 'no route is missing and none is invented')

  for (const [method, url] of existing) {
    const op = doc.paths[openapiPath(url)]?.[method.toLowerCase()]
    t.ok(op, `${method} ${url} is documented`)
    if (op === undefined) continue
    if (PUBLIC.has(url)) {
      t.notOk(op.security, `${method} ${url} needs no credentials`)
    } else {
      t.same(op.security, [{ cookie: [] }, { bearer: [] }], `${method} ${url} takes the cookie or a bearer token`)
      t.ok(op.responses['401'], `${method} ${url} documents 401`)
    }
    if (method !== 'GET') t.match(op.responses['403']?.description ?? '', /CSRF_REJECTED/, `${method} ${url} documents the cross-site refusal`)
    t.ok(op.responses['503'], `${method} ${url} documents 503`)
    const statuses = Object.keys(op.responses).map(Number)
    // A redirect is the success of the routes a browser navigates to (the provider sign-in).
    t.ok(statuses.some(s => s < 400), `${method} ${url} documents its success`)
    for (const status of statuses.filter(s => s >= 400)) {
      const r = op.responses[String(status)]
      t.equal(r.content?.['application/problem+json']?.schema.$ref, '#/components/schemas/Problem', `${method} ${url} ${status} is a problem document`)
      const codes = [...r.description.matchAll(/`([A-Z_]+)`/g)].map(m => m[1])
      t.ok(codes.length > 0, `${method} ${url} ${status} names its codes`)
      for (const code of codes) t.equal(ERRORS[code as keyof typeof ERRORS]?.status, status, `${code} answers with ${status}`)
    }
  }
  const login = doc.paths['/api/auth/login'].post
  t.match(login.responses['401'].description, /INVALID_CREDENTIALS/)
  t.match(login.responses['403'].description, /EMAIL_NOT_VERIFIED/)
  t.match(login.responses['429'].description, /RATE_LIMITED/)
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
