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
  'POST /api/auth/token/refresh': { refreshToken: 'r1.Z2F0ZWhvdXNlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ' }
}
