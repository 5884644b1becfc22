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

/**
 * What each event means and the only `data` fields it may carry: `emit` drops any other
 * field (and logs that it did), so a payload can never grow a secret, an address or an id
 * of another person by accident. A field here is a small fact: never a password, token,
 * code, cookie, hash or email address. The README's event catalogue is this table.
 */
export const EVENT_CATALOGUE: Record<EventType, { description: string, data: readonly string[] }> = {
  'user.signed_up': { description: 'an account was created (`method`: `password` or `provider`; `by`: `admin` when an administrator created it)', data: ['method', 'provider', 'by'] },
  'user.email_verified': { description: 'the account\'s address was confirmed', data: [] },
  'user.email_change_requested': { description: 'a change of address was asked for (a link went to the new one)', data: [] },
  'user.email_changed': { description: 'the account\'s address changed (`reason`: `cancelled` when a "this wasn\'t me" link put the old one back)', data: ['reason'] },
  'user.profile_updated': { description: 'names or username changed (`fields`: which, comma-separated; `by`: `admin` when an administrator changed them)', data: ['fields', 'by'] },
  'user.disabled': { description: 'the account was disabled (`by`: `cli` or `admin`); its sessions ended', data: ['by'] },
  'user.enabled': { description: 'the account was enabled again (`by`: `cli` or `admin`)', data: ['by'] },
  'user.deleted': { description: 'the account was deleted (only in the global stream: the user\'s own goes with it)', data: ['by'] },
  'session.signed_in': { description: 'a sign-in (`method`: `password`, `passkey`, `email_code`, `provider`; `provider`; `mfa`: a second factor was used; `kind`: `cookie` or `token`; `newDevice`: first sign-in from this browser or client)', data: ['method', 'provider', 'mfa', 'kind', 'newDevice'] },
  'session.sign_in_failed': { description: 'a wrong password (or code) for this account (`method`; `failures`: counted so far)', data: ['method', 'failures'] },
  'session.backoff_started': { description: 'enough failures that further attempts must wait (`failures`; `device`: the budget of a known device)', data: ['failures', 'device'] },
  'session.signed_out': { description: 'the user signed out (`kind`: `cookie` or `token`)', data: ['kind'] },
  'session.ended': { description: 'one session or token family was ended from the session list (`by`: `user` or `admin`), or the oldest sessions ended because a sign-in went over `MAX_SESSIONS_PER_USER` (`reason`: `session_limit`; `ended`: how many)', data: ['by', 'reason', 'ended'] },
  'session.all_ended': { description: 'every session and token family ended (`by`: `user` or `admin`; `ended`: how many; `reason`: `email_change_cancelled` after a "this wasn\'t me" link)', data: ['by', 'ended', 'reason'] },
  'password.changed': { description: 'the user changed the password; other sessions ended', data: [] },
  'password.reset': { description: 'the password was set through an emailed reset link; every session ended', data: [] },
  'mfa.enabled': { description: 'two-factor authentication was turned on', data: ['method'] },
  'mfa.disabled': { description: 'two-factor authentication was turned off (`by`: `admin` for an administrator\'s reset)', data: ['method', 'by'] },
  'mfa.backup_codes_regenerated': { description: 'new backup codes replaced the old ones', data: [] },
  'passkey.added': { description: 'a passkey was registered (`name`: its label)', data: ['name'] },
  'passkey.removed': { description: 'a passkey was removed', data: ['name'] },
  'identity.linked': { description: 'an identity of another provider was linked (`provider`)', data: ['provider'] },
  'identity.unlinked': { description: 'a linked identity was removed (`provider`)', data: ['provider'] },
  'token.family_revoked': { description: 'a spent refresh token came back, so its whole token family was ended (`reason`: `reuse`)', data: ['reason'] },
  'admin.action': { description: 'an administrator acted on an account (`action`; `target`: that account as the global stream names it, an HMAC of its id, so a deleted account leaves no id behind)', data: ['action', 'target'] }
}

/** How a person signed in: the `method` of `session.signed_in` and `session.sign_in_failed`. */
export const SIGN_IN_METHODS = ['password', 'passkey', 'email_code', 'provider'] as const
export type SignInMethod = typeof SIGN_IN_METHODS[number]

/** A stored method read back; anything unknown is the default, a password. */
export function signInMethod (v: string | undefined): SignInMethod {
  return SIGN_IN_METHODS.find(m => m === v) ?? 'password'
}

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

/** `app.events.emit`, as domain functions take it among their dependencies. */
export type EmitEvent = (input: EventInput) => Promise<void>

/** Receives every emitted event after it is recorded (webhooks, mail). Must not throw into the caller. */
export type EventSink = (event: SecurityEvent) => Promise<void>
