import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { AuthError } from '../src/http/errors.js'
import { isOptionalBody } from '../src/http/schemas.js'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/**
 * The API takes JSON and nothing else. Fastify's own text/plain parser is removed: a
 * text/plain POST is what an HTML form on another site can send without a preflight, so
 * it gets 415 before any handler runs. JSON must be valid UTF-8 (Fastify would otherwise
 * turn bad bytes into U+FFFD, so two different byte strings could be the same password),
 * and is then parsed by Fastify's secure-json-parse parser, which refuses `__proto__` and
 * `constructor.prototype` keys as configured in serverOptions.
 */
export default fp(async (app) => {
  const parseJson = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    let text: string
    try {
      text = utf8.decode(body)
    } catch {
      done(new AuthError('VALIDATION_FAILED', 'The body is not valid UTF-8.', { fieldErrors: {}, formErrors: ['body is not valid UTF-8'] }), undefined)
      return
    }
    parseJson(request, text, done)
  })
  // A request without a body, to a route whose body is optional, is validated as `{}`.
  app.addHook('onRoute', (route) => {
    if (!isOptionalBody(route.schema?.body)) return
    const fill = async (request: FastifyRequest): Promise<void> => { request.body ??= {} }
    route.preValidation = [fill, ...(route.preValidation === undefined ? [] : [route.preValidation].flat())]
  })
}, { name: 'json-body' })
