import t from 'tap'
import { PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'
import { enrolledUser, KEY } from '../support/mfa.js'

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

t.test('one budget for every password and second-factor check of an account', async t => {
  const s = await target(t, { ...BACKOFF, DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(s)
  // Ten challenges, one after the other (the password is known to whoever attacks the second
  // factor; attempts in flight count until they are settled, so a burst of them would not).
  const challenges: string[] = []
  for (let i = 0; i < 10; i++) challenges.push((await s.send(ip(i), 'POST', '/api/auth/login', { email: e.email, password: PASSWORD })).body.mfaToken as string)
  t.ok(challenges.every(c => typeof c === 'string'), 'ten challenges: a right password spends nothing')
  // Twenty wrong codes in flight across the ten challenges, from twenty addresses.
  const answers = await burst(20, async i => await s.send(ip(i + 20), 'POST', '/api/auth/mfa/verify', { mfaToken: challenges[i % 10], code: String(100000 + i) }))
  const codes = answers.map(a => a.body.code as string)
  t.equal(codes.filter(c => c === 'INVALID_MFA_CODE').length, 5, `five codes were checked (${codes.join(' ')})`)
  t.equal(codes.filter(c => c === 'RATE_LIMITED').length, 15, 'the others were refused before any check')
  // The same budget holds for the password checks of a signed-in session and for /2fa/disable.
  t.equal((await s.send(ip(60), 'POST', '/api/auth/password/change', { currentPassword: 'a wrong guess', newPassword: 'whatever new password' }, { cookie: e.cookie })).status, 429, 'password change waits too')
  t.equal((await s.send(ip(60), 'POST', '/api/auth/2fa/disable', { password: PASSWORD, code: e.backupCodes[0] }, { cookie: e.cookie })).status, 429, '2FA disable checks no code during the back-off')
  t.equal((await s.send(ip(60), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: e.backupCodes[1] }, { cookie: e.cookie })).status, 429, 'nor a password and code for new backup codes')
})

t.test('wrong current passwords of a signed-in session reach the account back-off', async t => {
  const s = await target(t, BACKOFF)
  const user = await signedInUser(s, uniqueEmail('change'))
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await s.send(ip(i), 'POST', '/api/auth/password/change', { currentPassword: `guess ${i}`, newPassword: 'a brand new password' }, { cookie: user.cookie })).status)
  t.same(statuses, [401, 401, 401, 401, 401])
  t.equal((await s.send(ip(9), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD })).status, 429, 'the account now backs off for /login as well')
})

t.test('wrong passwords at every signed-in route that checks one spend the account budget, in flight from many addresses', async t => {
  const s = await target(t, BACKOFF)
  const user = await signedInUser(s, uniqueEmail('routes'))
  const routes: Array<[string, (i: number) => Record<string, string>]> = [
    ['/api/auth/password/change', i => ({ currentPassword: `guess ${i}`, newPassword: 'a brand new password' })],
    ['/api/auth/2fa/setup', i => ({ password: `guess ${i}` })],
    ['/api/auth/2fa/backup-codes', i => ({ password: `guess ${i}`, code: '123456' })],
    ['/api/auth/2fa/disable', i => ({ password: `guess ${i}`, code: '123456' })]
  ]
  const answers = await burst(12, async i => {
    const [path, body] = routes[i % routes.length]
    return { path, a: await s.send(ip(i), 'POST', path, body(i), { cookie: user.cookie }) }
  })
  const checked = answers.filter(x => x.a.status === 401)
  t.equal(checked.length, 5, `five wrong passwords were checked (${answers.map(x => `${x.path.split('/').at(-1) ?? ''} ${x.a.status}`).join(', ')})`)
  t.ok(checked.every(x => x.a.body.code === 'INVALID_CREDENTIALS'))
  t.equal(answers.filter(x => x.a.status === 429).length, 7, 'the others were refused before any check')
  t.equal((await s.send(ip(30), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD })).status, 429, 'and /login backs off for the account too')
})
