/** Stable error codes of CONTRACT.md, with the status and title each one answers with. */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  INVALID_TOKEN: { status: 400, title: 'The token is invalid, expired or already used' },
  INVALID_CREDENTIALS: { status: 401, title: 'Invalid credentials' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  INVALID_MFA_CODE: { status: 401, title: 'Invalid verification code' },
  PASSKEY_REJECTED: { status: 400, title: 'The passkey response was not accepted' },
  EMAIL_NOT_VERIFIED: { status: 403, title: 'Email address not verified' },
  ACCOUNT_DISABLED: { status: 403, title: 'Account disabled' },
  CSRF_REJECTED: { status: 403, title: 'Cross-site request rejected' },
  REAUTHENTICATION_REQUIRED: { status: 403, title: 'Confirm your password first' },
  FORBIDDEN: { status: 403, title: 'The administrator role is required' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  MFA_ALREADY_ENABLED: { status: 409, title: 'Two-factor authentication is already on' },
  MFA_NOT_ENABLED: { status: 409, title: 'Two-factor authentication is not on' },
  MFA_SETUP_REQUIRED: { status: 409, title: 'No two-factor setup in progress' },
  LAST_SIGN_IN_METHOD: { status: 409, title: 'This is the account\'s last way to sign in' },
  PASSKEY_LIMIT_REACHED: { status: 409, title: 'The account has as many passkeys as it may have' },
  USERNAME_TAKEN: { status: 409, title: 'The username is taken' },
  EMAIL_TAKEN: { status: 409, title: 'The email address belongs to another account' },
  OWN_ACCOUNT: { status: 409, title: 'An administrator cannot do this to their own account' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service temporarily unavailable' }
} as const

export type ErrorCode = keyof typeof ERRORS

export type FieldErrors = Record<string, string[]>

/** What domain code throws; the error handler turns it into a problem document. */
export class AuthError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly retryAfter?: number
  readonly fieldErrors?: FieldErrors
  readonly formErrors?: string[]

  constructor (code: ErrorCode, detail?: string, extra: { retryAfter?: number, fieldErrors?: FieldErrors, formErrors?: string[] } = {}) {
    super(detail ?? ERRORS[code].title)
    this.name = 'AuthError'
    this.code = code
    this.status = ERRORS[code].status
    this.retryAfter = extra.retryAfter
    this.fieldErrors = extra.fieldErrors
    this.formErrors = extra.formErrors
  }
}

export function validationError (field: string, message: string): AuthError {
  return new AuthError('VALIDATION_FAILED', `${field}: ${message}`, { fieldErrors: { [field]: [message] }, formErrors: [] })
}
