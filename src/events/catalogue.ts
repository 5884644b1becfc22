/**
 * The security events Gatehouse records, by dotted name. One list, so that emitters, the
 * activity page, webhooks filters and the README's catalogue cannot drift apart.
 * `data` never holds a password, token, code, cookie or hash.
 */
export const EVENT_TYPES = [
  'user.signed_up',
  'user.email_verified',
  'user.email_change_requested',
  'user.email_changed',
  'user.profile_updated',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'session.signed_in',
  'session.sign_in_failed',
  'session.backoff_started',
  'session.signed_out',
  'session.ended',
  'session.all_ended',
  'password.changed',
  'password.reset',
  'mfa.enabled',
  'mfa.disabled',
  'mfa.backup_codes_regenerated',
  'passkey.added',
  'passkey.removed',
  'identity.linked',
  'identity.unlinked',
  'token.family_revoked',
  'admin.action'
] as const

export type EventType = typeof EVENT_TYPES[number]

/** How a person signed in: the `method` of `session.signed_in` and `session.sign_in_failed`. */
export type SignInMethod = 'password' | 'passkey' | 'email_code' | 'provider'

export type EventData = Record<string, string | number | boolean | null>

/** What an action reports; `emit` adds the id and the time. */
export interface EventInput {
  type: EventType
  /** the account it happened to */
  userId: string
  ip?: string
  userAgent?: string
  data?: EventData
}

export interface SecurityEvent extends EventInput {
  /** unique per event; webhooks use it as `webhook-id` */
  id: string
  /** epoch milliseconds */
  at: number
  data: EventData
}

/** Receives every emitted event after it is recorded (webhooks, mail). Must not throw into the caller. */
export type EventSink = (event: SecurityEvent) => Promise<void>
