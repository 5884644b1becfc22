import t from 'tap'
import { decodeSession as decode, encodeSession } from '../../src/sessions/record.js'

t.test('a record reads back field for field, with times in base 36', async t => {
  const s = { userId: 'u-1', createdAt: 1_700_000_000_000, absoluteExpiresAt: 1_700_003_600_000, lastSeenAt: 1_700_000_060_000, ip: '2001:db8::1', userAgent: 'agent' }
  const raw = encodeSession(s)
  t.equal(raw, `u-1|${(1_700_000_000_000).toString(36)}|${(1_700_003_600_000).toString(36)}|${(1_700_000_060_000).toString(36)}|2001:db8::1|agent`)
  t.same(decode(raw), s)
})

t.test('a record whose user id or address holds the separator is refused, never misread', async t => {
  const s = { userId: 'a|b', createdAt: 1, absoluteExpiresAt: 2, lastSeenAt: 3, ip: '::1', userAgent: 'x' }
  t.throws(() => encodeSession(s))
  t.throws(() => encodeSession({ ...s, userId: 'a', ip: '1|2' }))
  t.same(decode(encodeSession({ ...s, userId: 'a', userAgent: 'x|y' })), { ...s, userId: 'a', userAgent: 'x|y' }, 'the user agent comes last and may hold it')
  t.throws(() => decode('{"u":"old"}'), 'a JSON record is not a session record')
})
