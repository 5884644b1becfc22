import type { ErrorCode, Problem } from './api-types.js'

/** The code for an error answer that is not a problem document (a proxy's page, say). */
function codeForStatus (status: number): ErrorCode {
  switch (status) {
    case 401: return 'UNAUTHENTICATED'
    case 404: return 'NOT_FOUND'
    case 413: return 'PAYLOAD_TOO_LARGE'
    case 415: return 'UNSUPPORTED_MEDIA_TYPE'
    case 429: return 'RATE_LIMITED'
    case 502:
    case 503:
    case 504: return 'SERVICE_UNAVAILABLE'
    default: return status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED'
  }
}

/**
 * Every error answer of the API, thrown by the client. `code` is the server's stable code:
 * switch on it, not on `message`.
 */
export class GatehouseError extends Error {
  override readonly name = 'GatehouseError'
  readonly status: number
  readonly code: ErrorCode
  /** The RFC 9457 problem document as the server sent it (or one made up from the status). */
  readonly problem: Problem
  /** Messages by field for VALIDATION_FAILED (`{ password: ['is required'] }`); empty otherwise. */
  readonly fieldErrors: Record<string, string[]>
  /** Messages about the body as a whole for VALIDATION_FAILED; empty otherwise. */
  readonly formErrors: string[]
  /** Seconds to wait before trying again, on 429 and 503. */
  readonly retryAfter?: number

  constructor (problem: Problem, retryAfter?: number) {
    super(problem.detail !== '' ? problem.detail : problem.title)
    this.problem = problem
    this.status = problem.status
    this.code = problem.code
    this.fieldErrors = problem.fieldErrors ?? {}
    this.formErrors = problem.formErrors ?? []
    this.retryAfter = retryAfter
  }

  /** The error of an answer with status >= 400, from its body text. */
  static fromResponse (status: number, contentType: string, body: string, retryAfterHeader: string | null): GatehouseError {
    let problem: Problem | undefined
    if (/^application\/(problem\+)?json/i.test(contentType)) {
      try {
        const parsed = JSON.parse(body) as Partial<Problem>
        if (typeof parsed.code === 'string' && typeof parsed.title === 'string') problem = { detail: '', ...parsed, status } as Problem
      } catch {}
    }
    problem ??= { type: 'about:blank', title: `HTTP ${status}`, status, detail: body.slice(0, 200), code: codeForStatus(status) }
    const seconds = retryAfterHeader === null ? NaN : Number(retryAfterHeader)
    const retryAfter = (status === 429 || status === 503) && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined
    return new GatehouseError(problem, retryAfter)
  }
}

export function isGatehouseError (err: unknown, code?: ErrorCode): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code)
}
