import { hmac, randomToken, safeEqual } from '../crypto/secrets.js'

/*
 * Device cookies, as OWASP's guidance on lockouts describes them: after a successful sign-in
 * the browser or client gets a cookie naming the account and a random device id, signed with
 * a server key. Failed attempts that present a valid device cookie of the account being
 * tried spend a budget of that device's own, so a stranger's failures cannot lock out a
 * client that has signed in to the account before. The cookie proves nothing else: it is
 * never a credential.
 */

/** The cookie value for a new device of `userId`: `<userId>.<device>.<mac>`. */
export function makeDeviceCookie (key: string, userId: string): string {
  const body = `${userId}.${randomToken(16)}`
  return `${body}.${hmac(key, `device:${body}`)}`
}

/** The device id the cookie names for `userId`, or undefined (absent, forged or another account's). */
export function deviceOf (key: string, value: string | undefined, userId: string): string | undefined {
  if (value === undefined || value.length > 200) return undefined
  const last = value.lastIndexOf('.')
  if (last === -1) return undefined
  const body = value.slice(0, last)
  if (!safeEqual(value.slice(last + 1), hmac(key, `device:${body}`))) return undefined
  const dot = body.indexOf('.')
  return body.slice(0, dot) === userId ? body.slice(dot + 1) : undefined
}
