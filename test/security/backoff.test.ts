import t from 'tap'
import { PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'

const BACKOFF = { LOGIN_FREE_FAILURES: '5', LOGIN_BACKOFF_BASE: '30', LOGIN_BACKOFF_MAX: '900' }

t.test('a burst of wrong passwords from twenty addresses at once: only the free attempts are evaluated', async t => {
  const s = await target(t, BACKOFF)
  const user = await signedInUser(s, uniqueEmail('burst'))
  const answers = await burst(20, async i => await s.send(ip(i), 'POST', '/api/auth/login', { email: user.email, password: `wrong guess ${i}` }))
  const statuses = answers.map(a => a.status)
  t.equal(statuses.filter(x => x === 401).length, 5, `five were checked (${statuses.join(' ')})`)
  t.equal(statuses.filter(x => x === 429).length, 15, 'the other fifteen were refused before any check')
  t.ok(answers.filter(a => a.status === 429).every(a => Number(a.headers.get('retry-after')) >= 1), 'each with Retry-After')
  const right = await s.send(ip(30), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD })
  t.equal(right.status, 429, 'while backing off even the right password is not checked')
})

t.test('the email and the username of one account spend one budget', async t => {
  const s = await target(t, BACKOFF)
  const email = uniqueEmail('one-budget')
  const username = `onebudget_${process.pid}`
  await s.send(ip(1), 'POST', '/api/auth/register', { email, password: PASSWORD, username })
  await s.send(ip(1), 'POST', '/api/auth/verify-email', { token: await tokenFromOutbox(s.outbox, email, 'verify-email') })
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const body = i % 2 === 0 ? { email, password: `wrong ${i}` } : { username, password: `wrong ${i}` }
    statuses.push((await s.send(ip(i), 'POST', '/api/auth/login', body)).status)
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429], 'alternating identifiers does not double the budget')
  t.equal((await s.send(ip(9), 'POST', '/api/auth/token', { username, password: 'wrong again' })).status, 429, '/token spends the same budget')
})

t.test('a password reset lifts the back-off others put on the account', async t => {
  const s = await target(t, BACKOFF)
  const user = await signedInUser(s, uniqueEmail('locked'))
  // Someone keeps the account at the cap.
  await burst(12, async i => await s.send(ip(i), 'POST', '/api/auth/login', { email: user.email, password: `attacker ${i}` }))
  t.equal((await s.send(ip(40), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD })).status, 429, 'the owner is locked out')
  await s.send(ip(40), 'POST', '/api/auth/password/forgot', { email: user.email })
  const token = await tokenFromOutbox(s.outbox, user.email, 'reset-password')
  t.equal((await s.send(ip(40), 'POST', '/api/auth/password/reset', { token, password: 'the owner is back now' })).status, 200)
  t.equal((await s.send(ip(40), 'POST', '/api/auth/login', { email: user.email, password: 'the owner is back now' })).status, 200, 'the owner gets in at once')
})

t.test('a client that signed in before keeps its own budget while others keep the account backing off', async t => {
  const s = await target(t, BACKOFF)
  const owner = await signedInUser(s, uniqueEmail('device'))
  const first = await fetch(`${s.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip(1) }, body: JSON.stringify({ email: owner.email, password: PASSWORD }) })
  const setCookie = first.headers.getSetCookie().find(c => c.startsWith('gatehouseDevice='))
  t.ok(setCookie, 'a device cookie after a successful sign-in')
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /Path=\/api\/auth/)
  t.match(setCookie, /SameSite=Strict/)
  const device = setCookie!.split(';')[0]

  // A stranger (another account's device cookie does not help them) drives the account to back off.
  const stranger = await signedInUser(s, uniqueEmail('stranger'))
  const theirs = (await fetch(`${s.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: stranger.email, password: PASSWORD }) })).headers.getSetCookie().find(c => c.startsWith('gatehouseDevice='))!.split(';')[0]
  await burst(12, async i => await s.send(ip(i + 10), 'POST', '/api/auth/login', { email: owner.email, password: `attacker ${i}` }, { cookie: theirs }))
  t.equal((await s.send(ip(50), 'POST', '/api/auth/login', { email: owner.email, password: PASSWORD })).status, 429, 'without the device cookie: backing off')
  t.equal((await s.send(ip(50), 'POST', '/api/auth/login', { email: owner.email, password: PASSWORD }, { cookie: theirs })).status, 429, 'another account\'s device cookie: backing off')
  const forged = device.replace(/.$/, c => c === 'A' ? 'B' : 'A')
  t.equal((await s.send(ip(50), 'POST', '/api/auth/login', { email: owner.email, password: PASSWORD }, { cookie: forged })).status, 429, 'a forged device cookie: backing off')
  t.equal((await s.send(ip(50), 'POST', '/api/auth/login', { email: owner.email, password: PASSWORD }, { cookie: device })).status, 200, 'the owner\'s device gets in')

  // The device's budget is limited too: its own failures back it off.
  const mine: number[] = []
  for (let i = 0; i < 6; i++) mine.push((await s.send(ip(51), 'POST', '/api/auth/login', { email: owner.email, password: `typo ${i}` }, { cookie: device })).status)
  t.same(mine, [401, 401, 401, 401, 401, 429], 'a device backs off after its own free failures')
})
