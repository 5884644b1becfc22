/**
 * The OpenAPI tags, one constant each, so a route cannot name a tag the document does not
 * describe (the docs plugin lists exactly these, in this order).
 */
export const TAGS = {
  account: { name: 'account', description: 'Registration, email verification, and the account\'s own profile, address and deletion' },
  session: { name: 'session', description: 'Signing in and out with the session cookie, and the signed-in user' },
  sessions: { name: 'sessions', description: 'The signed-in user\'s sessions and token families' },
  password: { name: 'password', description: 'Password reset and change' },
  mfa: { name: 'mfa', description: 'Two-factor authentication (TOTP and backup codes)' },
  passkeys: { name: 'passkeys', description: 'Passkeys (WebAuthn): registering, signing in without a password, the second step of 2FA, and managing them' },
  tokens: { name: 'tokens', description: 'Bearer tokens for clients without cookies' },
  activity: { name: 'activity', description: 'The signed-in user\'s recent security events' },
  oauth: { name: 'oauth', description: 'Sign-in with other identity providers (OpenID Connect, OAuth 2) and the identities linked to an account' },
  admin: { name: 'admin', description: 'The admin API under /api/admin: finding, inspecting, changing, disabling and deleting users (role `admin` only)' },
  operations: { name: 'operations', description: 'Health and metrics' }
} as const

export type TagName = keyof typeof TAGS

/** A route's `tags`: `tags: tag('session')`. */
export function tag (name: TagName): [string] {
  return [TAGS[name].name]
}
