import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A URL-safe random token; 32 bytes = 256 bits unless told otherwise. */
export function randomToken (bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** The form in which a secret is kept in Redis: a copy of Redis gives no usable token. */
export function digest (value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

export function hmac (key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url')
}

export function safeEqual (a: string, b: string): boolean {
  const ab = Buffer.from(a)
  const bb = Buffer.from(b)
  return ab.length === bb.length && timingSafeEqual(ab, bb)
}
