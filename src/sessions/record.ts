import { digest } from '../crypto/secrets.js'
import type { SignInMethod } from '../events/catalogue.js'

const METHODS: readonly SignInMethod[] = ['password', 'passkey', 'email_code', 'provider']

/** The facts a session keeps: ids and small values, never the user object or a hash. */
export interface SessionData {
  userId: string
  createdAt: number
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

/** The reference of a User-Agent text: 72 bits of its SHA-256, as 12 base64url characters. */
export function userAgentRef (userAgent: string): string {
  return digest(`ua:${userAgent}`).slice(0, 12)
}

/*
 * A session is stored as one compact string, `userId|createdAt|absoluteExpiresAt|lastSeenAt|ip|userAgentRef`
 * with the three times in base 36 (ms since the epoch, 8 characters each): about a third
 * less Redis memory than a JSON object, and the User-Agent text (about 110 bytes for a
 * browser) kept once for all the sessions that share it. The read-and-slide script
 * (read-and-slide.ts) parses the same layout.
 */

export function encodeSession (s: SessionData): string {
  // User ids are ours (random tokens) and addresses never hold `|`; a record that does
  // would be misread, so it is refused rather than stored.
  if (s.userId.includes('|') || s.ip.includes('|')) throw new Error('a session user id or address holds the record separator')
  const t = (n: number): string => Math.floor(n).toString(36)
  // The credential version and the sign-in method ride on the creation time (`c~cv~method`),
  // a field the read script never parses; a password session writes neither part it can omit.
  const method = s.method === undefined || s.method === 'password' ? '' : s.method
  const cv = s.cv === undefined || s.cv === 0 ? '' : t(s.cv)
  const c = method !== '' ? `${t(s.createdAt)}~${cv}~${method}` : cv !== '' ? `${t(s.createdAt)}~${cv}` : t(s.createdAt)
  return `${s.userId}|${c}|${t(s.absoluteExpiresAt)}|${t(s.lastSeenAt)}|${s.ip}|${s.userAgentRef ?? ''}`
}

export function decodeSession (v: string): SessionData {
  const p1 = v.indexOf('|')
  const p2 = v.indexOf('|', p1 + 1)
  const p3 = v.indexOf('|', p2 + 1)
  const p4 = v.indexOf('|', p3 + 1)
  const p5 = v.indexOf('|', p4 + 1)
  if (p1 < 0 || p5 < 0) throw new Error('malformed session record')
  const [created, cv, method] = v.slice(p1 + 1, p2).split('~')
  return {
    ...(cv === undefined || cv === '' ? {} : { cv: parseInt(cv, 36) }),
    ...(method !== undefined && (METHODS as readonly string[]).includes(method) ? { method: method as SignInMethod } : {}),
    userId: v.slice(0, p1),
    createdAt: parseInt(created, 36),
    absoluteExpiresAt: parseInt(v.slice(p2 + 1, p3), 36),
    lastSeenAt: parseInt(v.slice(p3 + 1, p4), 36),
    ip: v.slice(p4 + 1, p5),
    userAgent: '',
    userAgentRef: v.slice(p5 + 1)
  }
}
