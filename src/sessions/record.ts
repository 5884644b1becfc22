/** The facts a session keeps: ids and small values, never the user object or a hash. */
export interface SessionData {
  userId: string
  createdAt: number
  absoluteExpiresAt: number
  lastSeenAt: number
  ip: string
  userAgent: string
}

/*
 * A session is stored as one compact string, `userId|createdAt|absoluteExpiresAt|lastSeenAt|ip|userAgent`
 * with the three times in base 36 (ms since the epoch, 8 characters each): about a third
 * less Redis memory than a JSON object. The user agent comes last, so it may hold `|`;
 * the read-and-slide script (read-and-slide.ts) parses the same layout.
 */

export function encodeSession (s: SessionData): string {
  // User ids are ours (random tokens) and addresses never hold `|`; a record that does
  // would be misread, so it is refused rather than stored.
  if (s.userId.includes('|') || s.ip.includes('|')) throw new Error('a session user id or address holds the record separator')
  const t = (n: number): string => Math.floor(n).toString(36)
  return `${s.userId}|${t(s.createdAt)}|${t(s.absoluteExpiresAt)}|${t(s.lastSeenAt)}|${s.ip}|${s.userAgent}`
}

export function decodeSession (v: string): SessionData {
  const p1 = v.indexOf('|')
  const p2 = v.indexOf('|', p1 + 1)
  const p3 = v.indexOf('|', p2 + 1)
  const p4 = v.indexOf('|', p3 + 1)
  const p5 = v.indexOf('|', p4 + 1)
  if (p1 < 0 || p5 < 0) throw new Error('malformed session record')
  return {
    userId: v.slice(0, p1),
    createdAt: parseInt(v.slice(p1 + 1, p2), 36),
    absoluteExpiresAt: parseInt(v.slice(p2 + 1, p3), 36),
    lastSeenAt: parseInt(v.slice(p3 + 1, p4), 36),
    ip: v.slice(p4 + 1, p5),
    userAgent: v.slice(p5 + 1)
  }
}
