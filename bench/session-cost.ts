/*
 * What @fastify/session's Session costs per request, apart from the store: `npx tsx bench/session-cost.ts`.
 *
 * On every request with a session, @fastify/session builds a Session from what the store
 * answered (its constructor hashes the session: safe-stable-stringify, then SHA-256) and, in
 * onSend, asks isModified() (the same hash again). This times that pair for Gatehouse's
 * session (the fields of src/sessions/record.ts), for a session holding the user id only,
 * and for Gatehouse's session with the change-detection hash made a constant: the share of
 * the hash in @fastify/session's per-request work. Medians of 7 runs of 50,000.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
// Not an exported entry point: the class is reached by its file, for measuring only.
const Session = require(join(dirname(require.resolve('@fastify/session')), 'lib', 'session.js'))

const signer = { sign: (v: string) => `${v}.sig`, unsign: (v: string) => ({ valid: true, renew: false, value: v }) }
const request = { protocol: 'http' }
const cookie = { httpOnly: true, path: '/', sameSite: 'strict', secure: false, maxAge: 604_800_000 }
const now = Date.now()
const gatehouse = { userId: '0b6c7c2e-3a55-4a8e-9a41-3d1f6f3f0b1e', createdAt: now, absoluteExpiresAt: now + 2_592_000_000, lastSeenAt: now, ip: '198.51.100.7', userAgent: '', userAgentRef: 'abcdefgh', cv: 1 }
const userIdOnly = { userId: gatehouse.userId }

function perRequest (data: object, n: number): number {
  let modified = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const s = new Session(null, request, () => 'id', cookie, signer, data, `sid${i & 1023}`)
    if (s.isModified() === true) modified++
  }
  if (modified > 0) throw new Error('an unchanged session read as modified')
  return Number(process.hrtime.bigint() - t0) / n / 1000
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const runs = (data: object): number => median(Array.from({ length: 7 }, () => perRequest(data, 50_000)))

for (let i = 0; i < 5; i++) { perRequest(gatehouse, 20_000); perRequest(userIdOnly, 20_000) }
const full = runs(gatehouse)
const lean = runs(userIdOnly)
const hashKey = Object.getOwnPropertySymbols(Session.prototype).find(s => s.description === 'hash')
if (hashKey === undefined) throw new Error('@fastify/session no longer has its hash method')
const hash = Session.prototype[hashKey]
Session.prototype[hashKey] = () => 'x'
const withoutHash = runs(gatehouse)
Session.prototype[hashKey] = hash

const f = (n: number): string => n.toFixed(2)
console.log(`@fastify/session Session per request (constructor + isModified), µs, ${process.version}:
  Gatehouse's session                    ${f(full)}
  a session holding the user id only     ${f(lean)} (${Math.round((1 - lean / full) * 100)} % less)
  Gatehouse's session, hash a constant   ${f(withoutHash)} (the hash is ${Math.round((1 - withoutHash / full) * 100)} % of it)`)
