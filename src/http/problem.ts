import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError, ERRORS, type ErrorCode, type FieldErrors } from './errors.js'
import { isRedisUnavailable } from '../redis/client.js'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  fieldErrors?: FieldErrors
  formErrors?: string[]
}

export function problemType (code: ErrorCode): string {
  return `urn:gatehouse:problem:${code.toLowerCase().replace(/_/g, '-')}`
}

export function problem (code: ErrorCode, detail?: string, extra: Partial<Problem> = {}): Problem {
  return { type: problemType(code), title: ERRORS[code].title, status: ERRORS[code].status, detail: detail ?? ERRORS[code].title, code, ...extra }
}

interface AjvIssue { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

/** Ajv's errors as the contract's fieldErrors/formErrors. */
export function validationProblem (issues: AjvIssue[], context: string | undefined): Problem {
  // No prototype: a body field named `constructor` or `toString` must not find Object's.
  const fieldErrors: FieldErrors = Object.create(null) as FieldErrors
  const formErrors: string[] = []
  for (const issue of issues) {
    let field = issue.instancePath.replace(/^\//, '').replace(/\//g, '.')
    let message = issue.message ?? 'is invalid'
    if (issue.keyword === 'required') {
      field = [field, String(issue.params.missingProperty)].filter(Boolean).join('.')
      message = 'is required'
    } else if (issue.keyword === 'additionalProperties') {
      field = [field, String(issue.params.additionalProperty)].filter(Boolean).join('.')
      message = 'is not allowed'
    }
    if (field === '') {
      if (!formErrors.includes(message)) formErrors.push(message)
    } else {
      const list = fieldErrors[field] ??= []
      if (!list.includes(message)) list.push(message)
    }
  }
  const where = context === undefined ? 'request' : context
  const detail = `The ${where} is not valid: ` + [...Object.entries(fieldErrors).map(([f, m]) => `${f} ${m.join(', ')}`), ...formErrors].join('; ')
  return problem('VALIDATION_FAILED', detail.slice(0, 500), { fieldErrors, formErrors })
}

/** The one error handler: everything becomes an RFC 9457 problem document. */
export function toProblem (err: FastifyError | AuthError | Error): Problem {
  if (err instanceof AuthError) {
    return problem(err.code, err.message, err.code === 'VALIDATION_FAILED' ? { fieldErrors: err.fieldErrors ?? {}, formErrors: err.formErrors ?? [] } : {})
  }
  const fe = err as FastifyError & { validationContext?: string }
  if (Array.isArray(fe.validation)) return validationProblem(fe.validation as AjvIssue[], fe.validationContext)
  if (isRedisUnavailable(err)) return problem('SERVICE_UNAVAILABLE', 'The session store cannot be reached; try again shortly.')
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('PAYLOAD_TOO_LARGE', 'Request bodies are limited to 16 KiB.')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('UNSUPPORTED_MEDIA_TYPE', 'Send JSON with Content-Type: application/json.')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem('VALIDATION_FAILED', 'The body is not valid JSON.', { fieldErrors: {}, formErrors: ['body is not valid JSON'] })
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem('VALIDATION_FAILED', 'The URL is not valid.', { fieldErrors: {}, formErrors: ['the URL is not valid'] })
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('VALIDATION_FAILED', 'The Content-Length does not match the body.', { fieldErrors: {}, formErrors: ['invalid content length'] })
  }
  const status = fe.statusCode ?? 500
  if (status === 400) {
    // JSON syntax errors, forbidden __proto__ keys and the like: never echo the parser's text.
    return problem('VALIDATION_FAILED', 'The body is not valid JSON.', { fieldErrors: {}, formErrors: ['body is not valid JSON'] })
  }
  // A library refusing a path (@fastify/static on `..` or a dotfile) answers 403: to the
  // client it is a path that does not exist, and it is no fault of ours.
  if (status === 404 || status === 403) return problem('NOT_FOUND')
  if (status === 413) return problem('PAYLOAD_TOO_LARGE', 'Request bodies are limited to 16 KiB.')
  if (status === 415) return problem('UNSUPPORTED_MEDIA_TYPE', 'Send JSON with Content-Type: application/json.')
  if (status === 429) return problem('RATE_LIMITED')
  return problem('INTERNAL', 'Something went wrong on our side.')
}

export function sendProblem (reply: FastifyReply, p: Problem, retryAfter?: number): FastifyReply {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
  return reply.code(p.status).type('application/problem+json').send(p)
}

export function errorHandler (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const p = toProblem(err)
  let retryAfter = err instanceof AuthError ? err.retryAfter : undefined
  if (p.code === 'SERVICE_UNAVAILABLE') {
    retryAfter = 1
    request.log.warn({ err: { message: err.message, name: err.name } }, 'store unavailable')
  } else if (p.status >= 500) {
    request.log.error({ err }, 'unhandled error')
  }
  if (p.code === 'RATE_LIMITED' && retryAfter === undefined) {
    const header = reply.getHeader('retry-after')
    retryAfter = header === undefined ? 60 : Number(header)
  }
  return sendProblem(reply, p, retryAfter)
}
