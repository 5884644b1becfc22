import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { onRequestHookHandler, RouteOptions } from 'fastify'
import { ERRORS } from '../src/http/errors.js'
import { REQUEST_EXAMPLES } from '../src/http/openapi-examples.js'
import { ProblemSchema } from '../src/http/schemas.js'

/** The codes a problem document with `status` can carry, from the one table in errors.ts. */
export function codesFor (status: number): string[] {
  return Object.entries(ERRORS).filter(([, e]) => e.status === status).map(([code]) => code)
}

type Schema = Record<string, unknown>

/**
 * A Content-Security-Policy that also allows inline styles, which Swagger UI needs to
 * render; scripts stay as strict as they were.
 */
export function allowInlineStyles (header: string): string {
  const directives = header.split(';').map(d => d.trim()).filter(d => d !== '')
  const style = directives.findIndex(d => /^style-src\s/i.test(d) || d.toLowerCase() === 'style-src')
  if (style >= 0) {
    if (!directives[style].includes("'unsafe-inline'")) directives[style] += " 'unsafe-inline'"
  } else {
    const fallback = directives.find(d => /^default-src\s/i.test(d))
    if (fallback === undefined) return header
    directives.push(`style-src ${fallback.replace(/^default-src\s+/i, '')} 'unsafe-inline'`)
  }
  return directives.join(';')
}

/** The Problem schema as an OpenAPI component: the route schemas' own, without its $id. */
function problemComponent (): Schema {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(ProblemSchema)) as Schema
  const codes = Object.keys(ERRORS)
  return { ...rest, properties: { ...(rest.properties as Schema), code: { type: 'string', enum: codes } } }
}

function isProblemSchema (s: unknown): boolean {
  return typeof s === 'object' && s !== null && (s as Schema).$id === 'Problem'
}

function guardsOf (route: RouteOptions): unknown[] {
  const hooks = route.onRequest
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]
}

/**
 * OpenAPI 3.1 from the routes' own TypeBox schemas. Registered before the routes so that
 * @fastify/swagger sees every one of them. The transform adds what the route schemas do
 * not say themselves: the security of guarded routes, the error codes behind each
 * problem status, and request examples.
 */
export default fp(async (app) => {
  const origin = app.config.appOrigin
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version: '0.1.0',
        description: 'Authentication server with opaque, Redis-backed sessions. Every error is an RFC 9457 problem document (`application/problem+json`) whose `code` a client can switch on. State-changing requests that carry the session cookie must come from the server\'s own origin or a configured SPA origin, and must send the `csrfToken` from /login or /me in `X-CSRF-Token` when the cookie is `SameSite=None`.'
      },
      servers: [{ url: origin }],
      tags: [
        { name: 'account', description: 'Registration and email verification' },
        { name: 'session', description: 'Signing in and out' },
        { name: 'sessions', description: 'The signed-in user\'s sessions' },
        { name: 'password', description: 'Password reset and change' },
        { name: '2fa', description: 'Two-factor authentication (TOTP)' },
        { name: 'token', description: 'Bearer tokens for clients without cookies' },
        { name: 'oauth', description: 'Sign-in with other identity providers (OpenID Connect, OAuth 2) and linked identities' },
        { name: 'operations', description: 'Health, metrics and this document' }
      ],
      components: {
        schemas: { Problem: problemComponent() },
        securitySchemes: {
          cookie: { type: 'apiKey', in: 'cookie', name: app.config.sessionCookieName, description: 'The session cookie set by /login (HttpOnly, signed, opaque).' },
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token from /token, in `Authorization: Bearer <accessToken>`.' }
        }
      }
    },
    // Keep a named schema such as Problem as a named component, referenced from each response.
    refResolver: {
      buildLocalReference (json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' ? json.$id : `def-${i}`
      }
    },
    transform ({ schema, url, route }) {
      if (schema === undefined || schema === null) return { schema, url }
      if ((schema as Schema).hide === true) return { schema, url }
      const out: Schema = { ...(schema as Schema) }
      const method = String(Array.isArray(route.method) ? route.method[0] : route.method).toUpperCase()

      const guarded = guardsOf(route).includes(app.authenticate as onRequestHookHandler)
      if (out.security === undefined && guarded) out.security = [{ cookie: [] }, { bearer: [] }]

      // Statuses every route can answer with although its schema may not list them: the
      // guard's 401, the cross-site check's 403 on state-changing methods, the rate limit's
      // 429, and the store being unreachable.
      const implied: Record<string, string[]> = { 500: ['INTERNAL'], 503: ['SERVICE_UNAVAILABLE'] }
      if (guarded) implied[401] = ['UNAUTHENTICATED']
      if (method !== 'GET' && method !== 'HEAD') implied[403] = ['CSRF_REJECTED']
      if ((route.config as Schema | undefined)?.rateLimit !== undefined) implied[429] = ['RATE_LIMITED']

      const response = { ...(out.response as Record<string, unknown> | undefined) }
      const documented: Record<string, unknown> = {}
      const problemResponse = (codes: string[]): Schema => ({
        description: `Problem document; \`code\` is one of ${codes.map(c => `\`${c}\``).join(', ')}`,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }
      })
      for (const [status, s] of Object.entries(response)) {
        if (!isProblemSchema(s)) {
          documented[status] = s
          continue
        }
        const codes = codesFor(Number(status))
        documented[status] = problemResponse(codes.length > 0 ? codes : (implied[status] ?? []))
      }
      for (const [status, codes] of Object.entries(implied)) {
        if (documented[status] === undefined) documented[status] = problemResponse(codes)
      }
      out.response = documented

      const example = REQUEST_EXAMPLES[`${method} ${url}`]
      if (example !== undefined && out.body !== undefined) {
        out.body = { ...(out.body as Schema), examples: [example] }
      }
      return { schema: out, url }
    }
  })
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Only on the /docs routes: Swagger UI (React) sets style attributes.
    transformStaticCSP: allowInlineStyles
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'docs', dependencies: ['config', 'authenticate'] })
