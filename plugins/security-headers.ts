import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'

/**
 * Helmet for a JSON API that may also serve a same-origin demo page: scripts, styles and
 * fetches only from this origin, images also as data: URLs (the 2FA QR code), no frames,
 * no plugins, no forms to elsewhere.
 */
export function helmetOptions (hsts: boolean): Readonly<HelmetOptions> {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    // Other sites' pages must not embed or read our responses without CORS.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS only means something over HTTPS (config.hsts: production).
    strictTransportSecurity: hsts ? { maxAge: 31536000, includeSubDomains: true } : false
  }
}

/**
 * The headers helmet writes with `options`, as one object: its directives here are plain
 * strings (no per-request nonce or function), so the answer is the same for every request.
 */
export function helmetHeaders (options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader (name: string) { headers[name.toLowerCase()] = undefined as unknown as string }
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined) throw err })
  for (const k of Object.keys(headers)) if (headers[k] === undefined) delete headers[k]
  return headers
}

/**
 * The headers of a JSON answer, as the OWASP REST Security Cheat Sheet sets them: nothing
 * a JSON answer could load or be framed by, never sniffed as something else, never read by
 * another site without CORS, no Referer sent from it. Helmet's other headers (the opener
 * policy, DNS prefetching, agent clusters, IE's download and XSS switches, Flash policy
 * files) steer documents, which a JSON answer never becomes under `nosniff`; each is still
 * parsed and written per answer, on the hottest path there is.
 */
export function jsonHeaders (hsts: boolean): Readonly<Record<string, string>> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    ...(hsts ? { 'strict-transport-security': helmetHeaders(helmetOptions(true))['strict-transport-security'] } : {})
  }
}

/** Paths of JSON answers; every other route (the demo page and its files, /docs) is a page. */
const JSON_PATH = /^\/(api\/|health\/|metrics$|openapi\.json$)/

/**
 * Security headers on every answer, set in onRequest so that errors raised by later hooks
 * carry them too. JSON answers (and 404s) get the fixed set of jsonHeaders, built once at
 * start. Pages run helmet itself, with the policy of helmetOptions, so a page that needs
 * per-request values (a CSP nonce) can have them. API answers are never cached: they carry
 * sessions, tokens and personal data.
 */
export default fp(async (app) => {
  const options = helmetOptions(app.config.hsts)
  const fixed = jsonHeaders(app.config.hsts)
  const api = { ...fixed, 'cache-control': 'no-store' }
  const middleware = helmet(options)

  app.addHook('onRequest', function securityHeaders (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    // A route's own cache-control, set later, still wins.
    reply.headers(request.url.startsWith('/api/') ? api : fixed)
    done()
  })

  const jsonOnly = Object.keys(fixed)
  const helmetForPage = function helmetForPage (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    // Fastify's own headers would win over what helmet sets on the raw response.
    for (const name of jsonOnly) reply.removeHeader(name)
    middleware(request.raw, reply.raw, (err?: unknown) => { done(err as Error | undefined) })
  }
  app.addHook('onRoute', (route) => {
    if (JSON_PATH.test(route.url ?? route.path)) return
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [helmetForPage, ...own]
  })
}, { name: 'security-headers', dependencies: ['config'] })
