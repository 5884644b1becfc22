import { digest } from '../crypto/secrets.js'
import { SIGN_IN_METHODS, type SignInMethod } from '../events/catalogue.js'

/** The facts a session keeps: ids and small values, never the user object or a hash. */
export interface SessionData {
  userId: string
  createdAt: number
  /** createdAt + the absolute lifetime: not stored, derived on reading (see decodeSession) */
  absoluteExpiresAt: number
  lastSeenAt: number
  ip: string
  /** the client's User-Agent; '' as read back from Redis, which keeps only `userAgentRef` */
  userAgent: string
  /** the user's credential version when the session began (absent: 0; see User.credVersion) */
  cv?: number
  /** how the session signed in (absent: a password) */
  method?: SignInMethod
  /** the key of the User-Agent text in the store's shared dictionary (see store.ts, write) */
  userAgentRef?: string
}

/** The reference of a User-Agent text: 48 bits of its SHA-256, as 8 base64url characters. */
export function userAgentRef (userAgent: string): string {
  return digest(`ua:${userAgent}`).slice(0, 8)
}

/*
 * A session is stored as one compact string, `userId|createdAt|lastSeenAt|ip|userAgentRef`,
 * sized to stay within Redis's 80-byte allocation for an IPv4 address: the two times in
 * base 36 (ms since the epoch, 8 characters each); a user id that is a UUID (all of
 * Gatehouse's are) as its 32 hex digits; no absolute expiry (it is the creation time plus
 * the absolute lifetime, which the reader knows); the User-Agent text (about 110 bytes for a
 * browser) kept once for all the sessions that share it. The read-and-slide script
 * (read-and-slide.ts) parses the same layout.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const HEX32 = /^[0-9a-f]{32}$/

export function encodeSession (s: SessionData): string {
  // User ids are ours (UUIDs) and addresses never hold `|`; a record that does would be
  // misread, so it is refused rather than stored. So is an id of 32 hex digits, which would
  // read back as a UUID.
  if (s.userId.includes('|') || s.ip.includes('|') || HEX32.test(s.userId)) throw new Error('a session user id or address cannot be stored as is')
  const t = (n: number): string => Math.floor(n).toString(36)
  const user = UUID.test(s.userId) ? s.userId.replaceAll('-', '') : s.userId
  // The credential version and the sign-in method ride on the creation time (`c~cv~method`),
  // a field the read script never parses; a password session writes neither part it can omit.
  const method = s.method === undefined || s.method === 'password' ? '' : s.method
  const cv = s.cv === undefined || s.cv === 0 ? '' : t(s.cv)
  const c = method !== '' ? `${t(s.createdAt)}~${cv}~${method}` : cv !== '' ? `${t(s.createdAt)}~${cv}` : t(s.createdAt)
  return `${user}|${c}|${t(s.lastSeenAt)}|${s.ip}|${s.userAgentRef ?? ''}`
}

/** The session in record `v`, whose absolute lifetime is `absoluteTtlMs`. */
export function decodeSession (v: string, absoluteTtlMs: number): SessionData {
  const p1 = v.indexOf('|')
  const p2 = v.indexOf('|', p1 + 1)
  const p3 = v.indexOf('|', p2 + 1)
  const p4 = v.indexOf('|', p3 + 1)
  if (p1 < 0 || p4 < 0 || v.indexOf('|', p4 + 1) >= 0) throw new Error('malformed session record')
  const [created, cv, method] = v.slice(p1 + 1, p2).split('~')
  const u = v.slice(0, p1)
  const createdAt = parseInt(created, 36)
  return {
    ...(cv === undefined || cv === '' ? {} : { cv: parseInt(cv, 36) }),
    ...(method !== undefined && (SIGN_IN_METHODS as readonly string[]).includes(method) ? { method: method as SignInMethod } : {}),
    userId: HEX32.test(u) ? `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}` : u,
    createdAt,
    absoluteExpiresAt: createdAt + absoluteTtlMs,
    lastSeenAt: parseInt(v.slice(p2 + 1, p3), 36),
    ip: v.slice(p3 + 1, p4),
    userAgent: '',
    userAgentRef: v.slice(p4 + 1)
  }
}
