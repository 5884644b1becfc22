import t from 'tap'
import { decodeSession as decode, encodeSession, userAgentRef } from '../../src/sessions/record.js'

t.test('a record reads back field for field, with times in base 36', async t => {
  const s = { userId: 'u-1', createdAt: 1_700_000_000_000, absoluteExpiresAt: 1_700_003_600_000, lastSeenAt: 1_700_000_060_000, ip: '2001:db8::1', userAgent: 'agent', userAgentRef: userAgentRef('agent') }
  const raw = encodeSession(s)
  t.equal(raw, `u-1|${(1_700_000_000_000).toString(36)}|${(1_700_003_600_000).toString(36)}|${(1_700_000_060_000).toString(36)}|2001:db8::1|${userAgentRef('agent')}`)
  t.same(decode(raw), { ...s, userAgent: '' }, 'the User-Agent comes back as its reference only (the store keeps the text apart)')
  t.match(userAgentRef('agent'), /^[A-Za-z0-9_-]{12}$/)
})

t.test('a record whose user id or address holds the separator is refused, never misread', async t => {
  const s = { userId: 'a|b', createdAt: 1, absoluteExpiresAt: 2, lastSeenAt: 3, ip: '::1', userAgent: 'x' }
  t.throws(() => encodeSession(s))
  t.throws(() => encodeSession({ ...s, userId: 'a', ip: '1|2' }))
  t.same(decode(encodeSession({ ...s, userId: 'a', userAgentRef: userAgentRef('x|y') })), { ...s, userId: 'a', userAgent: '', userAgentRef: userAgentRef('x|y') }, 'a User-Agent with the separator is kept by reference')
  t.throws(() => decode('{"u":"old"}'), 'a JSON record is not a session record')
})

t.test('the sign-in method rides on the creation time; a password session is written as before', async t => {
  const s = { userId: 'u-1', createdAt: 1_700_000_000_000, absoluteExpiresAt: 1_700_003_600_000, lastSeenAt: 1_700_000_060_000, ip: '::1', userAgent: '', userAgentRef: '' }
  const c = (1_700_000_000_000).toString(36)
  t.equal(encodeSession({ ...s, method: 'password' }).split('|')[1], c)
  t.equal(encodeSession({ ...s, method: 'passkey' }).split('|')[1], `${c}~~passkey`)
  t.equal(encodeSession({ ...s, cv: 3, method: 'email_code' }).split('|')[1], `${c}~3~email_code`)
  t.same(decode(encodeSession({ ...s, method: 'passkey' })), { ...s, method: 'passkey' })
  t.same(decode(encodeSession({ ...s, cv: 3, method: 'provider' })), { ...s, cv: 3, method: 'provider' })
  t.same(decode(encodeSession({ ...s, cv: 3 })), { ...s, cv: 3 })
  t.notOk('method' in decode(`u-1|${c}~~bogus|1|1|::1|`), 'an unknown method is not read')
})
