import t from 'tap'
import { clientKey } from '../../src/http/client-address.js'
import { uniqueEmail } from '../helper.js'
import { burst, target } from './attack.js'

t.test('an address is keyed in one canonical form; IPv6 by its /64', async t => {
  const same = [['198.51.100.7', '::ffff:198.51.100.7', '::FFFF:c633:6407', '0:0:0:0:0:ffff:198.51.100.7'],
    ['2001:db8:1:2::1', '2001:DB8:1:2:0:0:0:1', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::1.2.3.4']]
  for (const group of same) t.same(new Set(group.map(clientKey)).size, 1, group.join(' = '))
  t.not(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'), 'another /64 is another client')
  t.not(clientKey('198.51.100.7'), clientKey('198.51.100.8'))
})

t.test('the per-IP login limit counts a whole IPv6 /64 once, whatever the spelling', async t => {
  const s = await target(t, { LOGIN_RATE_LIMIT: '5' })
  const login = async (xff: string): Promise<number> => (await s.send(xff, 'POST', '/api/auth/login', { email: uniqueEmail('v6'), password: 'a wrong password' })).status
  // Five attempts in flight from five addresses of one /64 (each a fresh account, so only the per-IP limit applies).
  const first = await burst(5, async i => await login(`2001:db8:1:2::${(i + 1).toString(16)}`))
  t.same(first, Array(5).fill(401))
  t.equal(await login('2001:DB8:1:2:abcd:ef01:2345:6789'), 429, 'a sixth address of the /64 is refused')
  t.equal(await login('2001:0db8:0001:0002:0000:0000:0000:0001'), 429, 'the same address spelt out is refused')
  t.equal(await login('2001:db8:1:3::1'), 401, 'the neighbouring /64 has its own budget')
  const v4 = await burst(5, async () => await login('198.51.100.9'))
  t.same(v4, Array(5).fill(401))
  t.equal(await login('::ffff:198.51.100.9'), 429, 'an IPv4-mapped IPv6 address is the IPv4 address')
})

t.test('one per-client budget for every place that checks a password or a code', async t => {
  const s = await target(t, { LOGIN_RATE_LIMIT: '4' })
  const from = '203.0.113.77'
  const statuses = [
    (await s.send(from, 'POST', '/api/auth/login', { email: uniqueEmail('pip'), password: 'a wrong password' })).status,
    (await s.send(from, 'POST', '/api/auth/token', { email: uniqueEmail('pip'), password: 'a wrong password' })).status,
    (await s.send(from, 'POST', '/api/auth/mfa/verify', { mfaToken: 'A'.repeat(43), code: '123456' })).status,
    (await s.send(from, 'POST', '/api/auth/login', { email: uniqueEmail('pip'), password: 'a wrong password' })).status
  ]
  t.same(statuses, [401, 401, 400, 401], 'four checks from one client')
  const fifth = await s.send(from, 'POST', '/api/auth/token', { email: uniqueEmail('pip'), password: 'a wrong password' })
  t.equal(fifth.status, 429, 'the fifth, on another route, is refused: moving between /login, /token and /mfa/verify buys nothing')
  t.ok(Number(fifth.headers.get('retry-after')) >= 1)
  t.equal((await s.send('203.0.113.78', 'POST', '/api/auth/login', { email: uniqueEmail('pip'), password: 'a wrong password' })).status, 401, 'another client has its own')
})
