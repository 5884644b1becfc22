import type { ErrorCode } from './errors.js'

/**
 * Request-body examples for the OpenAPI document, by `METHOD path`. Kept apart from the
 * route schemas so that routes stay thin; an entry for a route that does not exist is
 * simply unused. Every example must pass the route's own body schema (a test checks it).
 */
export const REQUEST_EXAMPLES: Record<string, unknown> = {
  'POST /api/auth/register': { email: 'ada@example.com', password: 'correct horse battery staple', username: 'ada', firstName: 'Ada', lastName: 'Lovelace' },
  'POST /api/auth/verify-email': { token: 'Jq3V0m6c2mYk0rQzv3L2bq2vVxWm1S9hN8kqS0V2xQE' },
  'POST /api/auth/verify-email/resend': { email: 'ada@example.com' },
  'POST /api/auth/login': { email: 'ada@example.com', password: 'correct horse battery staple' },
  'POST /api/auth/mfa/verify': { mfaToken: 'k2N9cZp0s4Qm7xT1vB8yR5wL3hJ6fD0gA2eU9iO4nKc', code: '123456', method: 'totp' },
  'POST /api/auth/password/forgot': { email: 'ada@example.com' },
  'POST /api/auth/password/reset': { token: 'Jq3V0m6c2mYk0rQzv3L2bq2vVxWm1S9hN8kqS0V2xQE', password: 'a new horse battery staple' },
  'POST /api/auth/password/change': { currentPassword: 'correct horse battery staple', newPassword: 'a new horse battery staple' },
  'POST /api/auth/2fa/setup': { password: 'correct horse battery staple' },
  'POST /api/auth/2fa/enable': { code: '123456' },
  'POST /api/auth/2fa/disable': { password: 'correct horse battery staple', code: '123456' },
  'POST /api/auth/2fa/backup-codes': { password: 'correct horse battery staple' },
  'POST /api/auth/token': { email: 'ada@example.com', password: 'correct horse battery staple' },
  'POST /api/auth/token/refresh': { refreshToken: 'r1.Z2F0ZWhvdXNlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ' },
  'POST /api/auth/email-code/request': { email: 'ada@example.com' },
  'POST /api/auth/email-code/verify': { email: 'ada@example.com', code: '421907' },
  'POST /api/auth/oauth/complete': { signInToken: 'Vt7Qm2xK9pL4sR8wE1nY6cJ3hF0dA5gB2uZ7iO9kTqM' }
}

/**
 * The `detail` (and for VALIDATION_FAILED the field errors) of the example problem document
 * shown for each code; codes not listed show their title. The examples are built with
 * problem(), so their shape is the one the error handler sends.
 */
export const PROBLEM_EXAMPLES: Partial<Record<ErrorCode, { detail: string, fieldErrors?: Record<string, string[]>, formErrors?: string[] }>> = {
  VALIDATION_FAILED: { detail: 'The body is not valid: email is required', fieldErrors: { email: ['is required'] }, formErrors: [] },
  INVALID_TOKEN: { detail: 'The token is invalid, expired or already used' },
  INVALID_CREDENTIALS: { detail: 'The email, username or password is incorrect.' },
  UNAUTHENTICATED: { detail: 'Authentication required' },
  INVALID_MFA_CODE: { detail: 'The verification code is wrong, expired or already used.' },
  EMAIL_NOT_VERIFIED: { detail: 'Verify your email address before signing in.' },
  ACCOUNT_DISABLED: { detail: 'This account has been disabled.' },
  CSRF_REJECTED: { detail: 'State-changing requests with the session cookie are accepted only from the configured origins.' },
  NOT_FOUND: { detail: 'No such session.' },
  MFA_ALREADY_ENABLED: { detail: 'Two-factor authentication is already on; disable it first.' },
  MFA_NOT_ENABLED: { detail: 'Two-factor authentication is not on.' },
  MFA_SETUP_REQUIRED: { detail: 'Start with /2fa/setup in this session; a setup lasts 10 minutes.' },
  PASSKEY_REJECTED: { detail: 'The passkey response does not answer this challenge for this site.' },
  REAUTHENTICATION_REQUIRED: { detail: 'You signed in more than 10 minutes ago: send your password with this request.' },
  PASSKEY_LIMIT_REACHED: { detail: 'An account may have at most 20 passkeys: delete one first.' },
  LAST_SIGN_IN_METHOD: { detail: 'This is the only way to sign in to this account: set a password first.' },
  PAYLOAD_TOO_LARGE: { detail: 'Request bodies are limited to 16 KiB.' },
  UNSUPPORTED_MEDIA_TYPE: { detail: 'Send JSON with Content-Type: application/json.' },
  RATE_LIMITED: { detail: 'Too many attempts; try again in 1 minute.' },
  SERVICE_UNAVAILABLE: { detail: 'The session store cannot be reached; try again shortly.' },
  INTERNAL: { detail: 'Something went wrong on our side.' }
}
