import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { onRequestHookHandler, RouteOptions } from 'fastify'
import { ERRORS, type ErrorCode } from '../src/http/errors.js'
import { problem } from '../src/http/problem.js'
import { PROBLEM_EXAMPLES, REQUEST_EXAMPLES } from '../src/http/openapi-examples.js'
import { ProblemSchema, declaredCodes } from '../src/http/schemas.js'
import { TAGS } from '../src/http/tags.js'

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

/**
 * Named (`$id`) schemas as OpenAPI components, into `into`: plain JSON without `$id` or the
 * response annotations, and named parts by reference (and added too).
 */
function addComponent (into: Schema, schema: Schema): void {
  const convert = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map(v => convert(v, false))
    if (typeof value !== 'object' || value === null) return value
    const s = value as Schema
    if (!top && typeof s.$id === 'string') {
      addComponent(into, s)
      return { $ref: `#/components/schemas/${s.$id}` }
    }
    const out: Schema = {}
    for (const [k, v] of Object.entries(s)) {
      if (k === '$id' || k === 'headers' || k === 'x-response-description') continue
      // TypeBox writes Record<string, T> as a catch-all pattern; generators read additionalProperties.
      if (k === 'patternProperties' && Object.keys(v as Schema).join() === '^(.*)$') out.additionalProperties = convert((v as Schema)['^(.*)$'], false)
      else out[k] = convert(v, false)
    }
    return out
  }
  const id = schema.$id as string
  if (into[id] === undefined) into[id] = convert(schema, true)
}

function guardsOf (route: RouteOptions): unknown[] {
  const hooks = route.onRequest
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The codes of a problem status, an example each, and the headers it carries. */
function problemResponse (status: number, codes: ErrorCode[]): Schema {
  const examples: Schema = {}
  for (const code of codes) {
    const e = PROBLEM_EXAMPLES[code]
    const extra = e?.fieldErrors !== undefined ? { fieldErrors: e.fieldErrors, formErrors: e.formErrors ?? [] } : {}
    examples[code] = { summary: ERRORS[code].title, value: problem(code, e?.detail, extra) }
  }
  const response: Schema = {
    description: codes.map(c => `\`${c}\`: ${ERRORS[c].title}`).join('; '),
    content: {
      'application/problem+json': {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: codes } } }
          ]
        },
        examples
      }
    }
  }
  if (status === 429 || status === 503) {
    response.headers = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } } }
  }
  return response
}

/** Rewrites every problem response of the generated document (see problemResponse). */
function documentProblems (doc: Schema): void {
  for (const ops of Object.values(doc.paths as Record<string, Record<string, Schema>>)) {
    for (const op of Object.values(ops)) {
      const responses = op.responses as Record<string, Schema>
      for (const [status, r] of Object.entries(responses)) {
        const schema = (r.content as Record<string, { schema?: unknown }> | undefined)?.['application/json']?.schema
        const codes = declaredCodes(schema)
        if (codes !== undefined) responses[status] = problemResponse(Number(status), codes)
      }
    }
  }
}

/**
 * OpenAPI 3.1 from the routes' own TypeBox schemas. Registered before the routes so that
 * @fastify/swagger sees every one of them. Each route says what is specific to it in its
 * schema (operationId, tags, `security: []` when public, success descriptions and headers,
 * its problem codes through `problems()`); the transforms below add what follows from the
 * route's wiring (the guard's security schemes, the CSRF header) and turn each declared
 * problem status into a Problem reference with the status's `code` enum and examples.
 */
export default fp(async (app) => {
  const origin = app.config.publicUrl
  /** Top-level named response schemas, which @fastify/swagger would inline. */
  const named = new Map<string, Schema>()
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version: '0.1.0',
        license: { name: 'MIT', identifier: 'MIT' },
        description: 'Authentication server with opaque, Redis-backed sessions. Every error is an RFC 9457 problem document (`application/problem+json`) whose `code` a client can switch on; each operation lists the codes it can answer with. State-changing requests that carry the session cookie must come from the server\'s own origin or a configured SPA origin, and must send the `csrfToken` from /login or /me in `X-CSRF-Token` when the cookie is `SameSite=None`. Bodies are JSON (`Content-Type: application/json`, at most 16 KiB); anything else is refused with 415.'
      },
      servers: [{ url: origin, description: 'this server (PUBLIC_URL)' }],
      tags: Object.values(TAGS).map(t => ({ ...t })),
      components: {
        schemas: {},
        securitySchemes: {
          cookie: { type: 'apiKey', in: 'cookie', name: app.config.sessionCookieName, description: 'The session cookie set by /login (HttpOnly, signed, opaque).' },
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token from /token, in `Authorization: Bearer <accessToken>`.' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the server is configured with one.' }
        }
      }
    },
    // Keep a named schema such as User as a named component, referenced wherever it is used.
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

      const guards = guardsOf(route)
      if (guards.includes(app.authenticate as onRequestHookHandler) || guards.includes(app.authenticateAdmin as onRequestHookHandler)) {
        out.security ??= [{ cookie: [] }, { bearer: [] }]
      }
      if (out.security === undefined) throw new Error(`${method} ${url}: a route without the guard says \`security: []\` (public) or names its schemes`)

      if (STATE_CHANGING.has(method)) {
        // Documentation only: the transform's schema is never used for validation.
        out.headers = {
          type: 'object',
          properties: { 'X-CSRF-Token': { type: 'string', description: 'the `csrfToken` of /login or /me; required with the session cookie when it is `SameSite=None`' } }
        }
      }

      const response: Schema = {}
      for (const [status, s] of Object.entries((out.response ?? {}) as Record<string, Schema>)) {
        if (typeof s.$id !== 'string') {
          response[status] = s
          continue
        }
        named.set(s.$id, s)
        response[status] = {
          'x-response-description': s['x-response-description'] ?? s.description,
          ...(s.headers === undefined ? {} : { headers: s.headers }),
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${s.$id}` } } }
        }
      }
      out.response = response

      const example = REQUEST_EXAMPLES[`${method} ${url}`]
      if (example !== undefined && out.body !== undefined) {
        out.body = { ...(out.body as Schema), examples: [example] }
      }
      return { schema: out, url }
    },
    transformObject (document) {
      const doc = (document as { openapiObject: Schema }).openapiObject
      const schemas = (doc.components as { schemas: Schema }).schemas
      addComponent(schemas, ProblemSchema)
      for (const s of named.values()) addComponent(schemas, s as Schema)
      documentProblems(doc)
      documentMetrics(doc)
      return doc
    }
  })
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Only on the /docs routes: Swagger UI (React) sets style attributes.
    transformStaticCSP: allowInlineStyles
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  if (app.config.checkProblemCodes) {
    // Under test, a problem code a route did not declare in its schema is a bug: the
    // answer becomes a 500 (which every test notices) and the log says which code it was.
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode < 400 || typeof payload !== 'string') return payload
      if (!String(reply.getHeader('content-type') ?? '').startsWith('application/problem+json')) return payload
      const responses = (request.routeOptions.schema as Schema | undefined)?.response as Record<string, unknown> | undefined
      // The not-found handler and routes without response schemas (the demo page) declare nothing.
      if (responses === undefined) return payload
      const code = (JSON.parse(payload) as { code?: ErrorCode }).code
      const declared = declaredCodes(responses[String(reply.statusCode)])
      if (code !== undefined && declared?.includes(code) === true) return payload
      const route = `${request.method} ${request.routeOptions.url ?? request.url}`
      const status = reply.statusCode
      request.log.error({ route, status, code }, 'problem code not declared in the route schema')
      reply.code(500)
      return JSON.stringify(problem('INTERNAL', `${route} answered ${status} ${String(code)}, which its schema does not declare.`))
    })
  }
}, { name: 'docs', dependencies: ['config', 'authenticate'] })

/**
 * GET /metrics answers Prometheus text, so it has no JSON response schema for
 * @fastify/swagger to read; its operation is written here.
 */
function documentMetrics (doc: Schema): void {
  const op = (doc.paths as Record<string, Record<string, Schema>>)['/metrics']?.get
  if (op === undefined) return
  Object.assign(op, {
    operationId: 'metrics',
    tags: [TAGS.operations.name],
    summary: 'Prometheus metrics',
    description: 'Open unless the server has a METRICS_TOKEN; with one, send it as a bearer token.',
    security: [{}, { metricsToken: [] }],
    responses: {
      200: { description: 'The metrics in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
      401: problemResponse(401, ['UNAUTHENTICATED'])
    }
  })
}
