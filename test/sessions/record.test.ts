import t from 'tap'
import { randomUUID } from 'node:crypto'
import { decodeSession as decode, encodeSession, userAgentRef } from '../../src/sessions/record.js'

const ABS = 3_600_000

t.test('a record reads back field for field, with times in base 36 and the absolute expiry derived', async t => {
  const s = { userId: 'u-1', createdAt: 1_700_000_000_000, absoluteExpiresAt: 1_700_000_000_000 + ABS, lastSeenAt: 1_700_000_060_000, ip: '2001:db8::1', userAgent: 'agent', userAgentRef: userAgentRef('agent') }
  const raw = encodeSession(s)
  t.equal(raw, `u-1|${(1_700_000_000_000).toString(36)}|${(1_700_000_060_000).toString(36)}|2001:db8::1|${userAgentRef('agent')}`)
  t.same(decode(raw, ABS), { ...s, userAgent: '' }, 'the User-Agent comes back as its reference only (the store keeps the text apart)')
  t.equal(decode(raw, 60_000).absoluteExpiresAt, s.createdAt + 60_000, 'the absolute expiry follows the lifetime the reader is given')
  t.match(userAgentRef('agent'), /^[A-Za-z0-9_-]{8}$/)
})

t.test('a UUID user id is stored as its 32 hex digits and reads back whole', async t => {
  const userId = randomUUID()
  const s = { userId, createdAt: 1_800_000_000_000, absoluteExpiresAt: 1_800_000_000_000 + ABS, lastSeenAt: 1_800_000_000_000, ip: '203.0.113.200', userAgent: '', userAgentRef: userAgentRef('a browser'), cv: 3 }
  const raw = encodeSession(s)
  t.ok(raw.startsWith(`${userId.replaceAll('-', '')}|`))
  t.ok(raw.length <= 76, `a record with an IPv4 address stays within Redis's 80-byte allocation (${raw.length} characters)`)
  t.same(decode(raw, ABS), s)
  t.throws(() => encodeSession({ ...s, userId: userId.replaceAll('-', '') }), 'an id that would read back as a UUID is refused')
})

t.test('a record whose user id or address holds the separator is refused, never misread', async t => {
  const s = { userId: 'a|b', createdAt: 1, absoluteExpiresAt: 1 + ABS, lastSeenAt: 3, ip: '::1', userAgent: 'x' }
  t.throws(() => encodeSession(s))
  t.throws(() => encodeSession({ ...s, userId: 'a', ip: '1|2' }))
  t.same(decode(encodeSession({ ...s, userId: 'a', userAgentRef: userAgentRef('x|y') }), ABS), { ...s, userId: 'a', userAgent: '', userAgentRef: userAgentRef('x|y') }, 'a User-Agent with the separator is kept by reference')
  t.throws(() => decode('{"u":"old"}', ABS), 'a JSON record is not a session record')
  t.throws(() => decode('u|1|2|3|4|5', ABS), 'nor is a record of the earlier layout')
})

t.test('the sign-in method rides on the creation time; a password session is written as before', async t => {
  const s = { userId: 'u-1', createdAt: 1_700_000_000_000, absoluteExpiresAt: 1_700_000_000_000 + ABS, lastSeenAt: 1_700_000_060_000, ip: '::1', userAgent: '', userAgentRef: '' }
  const c = (1_700_000_000_000).toString(36)
  t.equal(encodeSession({ ...s, method: 'password' }).split('|')[1], c)
  t.equal(encodeSession({ ...s, method: 'passkey' }).split('|')[1], `${c}~~passkey`)
  t.equal(encodeSession({ ...s, cv: 3, method: 'email_code' }).split('|')[1], `${c}~3~email_code`)
  t.same(decode(encodeSession({ ...s, method: 'passkey' }), ABS), { ...s, method: 'passkey' })
  t.same(decode(encodeSession({ ...s, cv: 3, method: 'provider' }), ABS), { ...s, cv: 3, method: 'provider' })
  t.same(decode(encodeSession({ ...s, cv: 3 }), ABS), { ...s, cv: 3 })
  t.notOk('method' in decode(`u-1|${c}~~bogus|1|::1|`, ABS), 'an unknown method is not read')
})
