import t from 'tap'
import { PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { enrolledUser, KEY } from '../support/mfa.js'
import type { Test } from 'tap'
import { burst, ip, target, type Target } from './attack.js'
import type { Answer } from '../support/http.js'
import { Authenticator } from '../support/totp.js'
import { readOutbox } from '../../src/mail/outbox.js'

// Real Argon2 cost: the window between reading the account and finishing the check is what is attacked.
const SLOW = { ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '2', DATA_ENCRYPTION_KEY: KEY }

/**
 * Cookie and token logins with `password`, in flight with `change` from many addresses. Every
 * one that signed in (a challenge is no sign-in) must be dead afterwards, whenever it finished.
 * Answers how many finished after the change had, and the change's own answer.
 */
async function raceLogins (t: Test, s: Target, email: string, password: string, label: string, change: () => Promise<Answer>, staggerMs = 0): Promise<{ overlapping: number, changed: Answer }> {
  let changedAt = 0
  const changing = change().then(r => { changedAt = Date.now(); return r })
  const logins = burst(12, async i => {
    const path = i % 2 === 0 ? '/api/auth/login' : '/api/auth/token'
    // Spread over the change's own duration when it is slow (a change checks a password too).
    await new Promise(resolve => setTimeout(resolve, i * staggerMs))
    const r = await s.send(ip(10 + i), 'POST', path, { email, password })
    return { r, doneAt: Date.now(), path }
  })
  const [changed, answers] = await Promise.all([changing, logins])
  t.equal(changed.status, 200, `${label}: the change went through`)
  let overlapping = 0
  for (const { r, doneAt, path } of answers) {
    if (r.status !== 200 || r.body.mfaRequired === true) continue
    if (doneAt >= changedAt) overlapping++
    const headers: Record<string, string> = path === '/api/auth/login' ? { cookie: r.cookie! } : { authorization: `Bearer ${r.body.accessToken as string}` }
    const me = await s.send(ip(40), 'GET', '/api/auth/me', undefined, headers)
    t.equal(me.status, 401, `${label}: a ${path} login with the old credentials answered at +${doneAt - changedAt} ms is dead`)
    if (path === '/api/auth/token') {
      const refreshed = await s.send(ip(40), 'POST', '/api/auth/token/refresh', { refreshToken: r.body.refreshToken })
      t.equal(refreshed.status, 401, 'and its refresh token too')
    }
  }
  return { overlapping, changed }
}

t.test('logins checked against the old password that finish after a reset are worth nothing', async t => {
  const s = await target(t, SLOW)
  const user = await signedInUser(s, uniqueEmail('race-reset'))
  let overlapping = 0
  for (let round = 0; round < 4 && overlapping === 0; round++) {
    const password = round === 0 ? PASSWORD : `reset password number ${round - 1}`
    await s.send(ip(1), 'POST', '/api/auth/password/forgot', { email: user.email })
    const token = await tokenFromOutbox(s.outbox, user.email, 'reset-password')
    overlapping += (await raceLogins(t, s, user.email, password, `reset round ${round}`,
      async () => await s.send(ip(2), 'POST', '/api/auth/password/reset', { token, password: `reset password number ${round}` }))).overlapping
  }
  t.comment(`${overlapping} old-password logins answered after the reset had`)
  t.ok(overlapping > 0, 'the race was really run: some logins finished after the reset')
})

t.test('logins checked against the old password that finish after a password change are worth nothing; the changing session goes on', async t => {
  const s = await target(t, SLOW)
  const user = await signedInUser(s, uniqueEmail('race-change'))
  let cookie = user.cookie
  let overlapping = 0
  // The change checks a password too, so its end moves with the load: logins are spread
  // over a window that differs from round to round.
  for (let round = 0; round < 8 && overlapping === 0; round++) {
    const password = round === 0 ? PASSWORD : `changed password number ${round - 1}`
    const race = await raceLogins(t, s, user.email, password, `change round ${round}`,
      async () => await s.send(ip(2), 'POST', '/api/auth/password/change', { currentPassword: password, newPassword: `changed password number ${round}` }, { cookie }), [25, 10, 40][round % 3])
    overlapping += race.overlapping
    // The changing session goes on under a new id.
    cookie = race.changed.cookie!
    t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, { cookie })).status, 200, 'the session that changed it is kept')
  }
  t.comment(`${overlapping} old-password logins answered after the change had`)
  t.ok(overlapping > 0, 'the race was really run')
})

t.test('logins that read the account before 2FA was turned on and finish after it are worth nothing', async t => {
  const s = await target(t, SLOW)
  let overlapping = 0
  for (let round = 0; round < 4 && overlapping === 0; round++) {
    const user = await signedInUser(s, uniqueEmail('race-enable'))
    const setup = await s.send(ip(2), 'POST', '/api/auth/2fa/setup', { password: PASSWORD }, { cookie: user.cookie })
    const code = await new Authenticator(setup.body.secret as string).next()
    overlapping += (await raceLogins(t, s, user.email, PASSWORD, `enable round ${round}`,
      async () => await s.send(ip(2), 'POST', '/api/auth/2fa/enable', { code }, { cookie: user.cookie }))).overlapping
    t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, { cookie: user.cookie })).body.user.mfaEnabled, true, 'the enabling session is kept, with 2FA on')
  }
  t.comment(`${overlapping} password-only logins answered after 2FA was on`)
  t.ok(overlapping > 0, 'the race was really run')
})

t.test('an MFA challenge begun before a reset cannot be completed after it', async t => {
  const s = await target(t, { ...SLOW, ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' })
  const e = await enrolledUser(s)
  const challenge = await s.send(ip(1), 'POST', '/api/auth/login', { email: e.email, password: PASSWORD })
  t.equal(challenge.body.mfaRequired, true)
  await s.send(ip(2), 'POST', '/api/auth/password/forgot', { email: e.email })
  const token = await tokenFromOutbox(s.outbox, e.email, 'reset-password')
  t.equal((await s.send(ip(2), 'POST', '/api/auth/password/reset', { token, password: 'the owner reset it' })).status, 200)
  const answer = await s.send(ip(1), 'POST', '/api/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code: e.backupCodes[0] })
  t.equal(answer.status, 400)
  t.equal(answer.body.code, 'INVALID_TOKEN', 'the challenge died with the old password')
})

t.test('2FA changes over a bearer token keep the caller\'s family and end the others', async t => {
  const s = await target(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(s)
  const token = async (n: number): Promise<{ accessToken: string, refreshToken: string }> => {
    const r = await s.send(ip(n), 'POST', '/api/auth/token', { email: e.email, password: PASSWORD, totpCode: e.auth.lastCode() })
    if (r.status === 200) return r.body
    // A code is accepted once (replay guard): answer the challenge with a backup code instead.
    const c = await s.send(ip(n), 'POST', '/api/auth/token', { email: e.email, password: PASSWORD })
    const v = await s.send(ip(n), 'POST', '/api/auth/mfa/verify', { mfaToken: c.body.mfaToken, code: e.backupCodes.pop() })
    return v.body
  }
  const mine = await token(1)
  const other = await token(2)
  const bearer = (x: { accessToken: string }): Record<string, string> => ({ authorization: `Bearer ${x.accessToken}` })
  const regenerated = await s.send(ip(1), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: e.backupCodes.pop() }, bearer(mine))
  t.equal(regenerated.status, 200, 'new backup codes over a bearer token')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(mine))).status, 200, 'the caller\'s family goes on')
  t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, bearer(other))).status, 401, 'the other family ended')
  const next = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: mine.refreshToken })
  t.equal(next.status, 200, 'the caller can refresh')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(next.body))).status, 200, 'and the refreshed token works')
})

t.test('turning 2FA on over a bearer token keeps the caller\'s token family and ends the others', async t => {
  const s = await target(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', DATA_ENCRYPTION_KEY: KEY })
  const user = await signedInUser(s, uniqueEmail('enable-bearer'))
  const mine = await s.send(ip(1), 'POST', '/api/auth/token', { email: user.email, password: PASSWORD })
  const other = await s.send(ip(2), 'POST', '/api/auth/token', { email: user.email, password: PASSWORD })
  const bearer = (x: Answer): Record<string, string> => ({ authorization: `Bearer ${x.body.accessToken as string}` })
  const setup = await s.send(ip(1), 'POST', '/api/auth/2fa/setup', { password: PASSWORD }, bearer(mine))
  t.equal(setup.status, 200)
  const enabled = await s.send(ip(1), 'POST', '/api/auth/2fa/enable', { code: await new Authenticator(setup.body.secret as string).next() }, bearer(mine))
  t.equal(enabled.status, 200)
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(mine))).body.user?.mfaEnabled, true, 'the caller\'s family goes on')
  const next = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: mine.body.refreshToken })
  t.equal(next.status, 200, 'and refreshes')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, bearer(next))).status, 200)
  t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, bearer(other))).status, 401, 'the other family ended')
  t.equal((await s.send(ip(2), 'GET', '/api/auth/me', undefined, { cookie: user.cookie })).status, 401, 'and the cookie session')
})

t.test('a token family has an absolute lifetime: refreshing does not carry it past the login\'s', async t => {
  const s = await target(t, { SESSION_ABSOLUTE_TTL: '3' })
  const user = await signedInUser(s, uniqueEmail('family-life'))
  const first = await s.send(ip(1), 'POST', '/api/auth/token', { email: user.email, password: PASSWORD })
  t.equal(first.status, 200)
  t.ok(first.body.expiresIn <= 3, `the access token ends with the family (${first.body.expiresIn as number} s)`)
  await new Promise(resolve => setTimeout(resolve, 1200))
  const second = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: first.body.refreshToken })
  t.equal(second.status, 200, 'a refresh within the lifetime works')
  t.ok(Date.parse(second.body.expiresAt) <= Date.parse(first.body.expiresAt) + 50, 'and does not extend it')
  await new Promise(resolve => setTimeout(resolve, 2000))
  const third = await s.send(ip(1), 'POST', '/api/auth/token/refresh', { refreshToken: second.body.refreshToken })
  t.equal(third.status, 401, 'past the absolute lifetime the family is over')
})

t.test('the owner is mailed on every change of the second factor', async t => {
  const s = await target(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(s)
  const notices = async (): Promise<string[]> => (await readOutbox(s.outbox)).filter(m => m.to.includes(e.email) && m.subject === 'Your Gatehouse two-factor settings changed').map(m => m.body)
  t.match((await notices()).at(-1), /Two-factor authentication was turned on/)
  const first = await s.send(ip(1), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: e.backupCodes[1] }, { cookie: e.cookie })
  t.equal(first.status, 200)
  t.match((await notices()).at(-1), /New backup codes were made/)
  t.equal((await s.send(ip(1), 'POST', '/api/auth/2fa/disable', { password: PASSWORD, code: e.backupCodes[0] }, { cookie: e.cookie })).body.code, 'INVALID_MFA_CODE', 'the old backup codes died with the new set')
  const fresh = await s.send(ip(1), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: first.body.backupCodes[0] }, { cookie: e.cookie })
  t.equal((await s.send(ip(1), 'POST', '/api/auth/2fa/disable', { password: PASSWORD, code: fresh.body.backupCodes[0] }, { cookie: e.cookie })).status, 200)
  t.match((await notices()).at(-1), /Two-factor authentication was turned off/)
  t.equal((await notices()).length, 4, 'one notice a change')
})

t.test('new backup codes need the second factor: a stolen session and password alone get none, and one backup code in flight twenty times makes one set', async t => {
  const s = await target(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(s)
  const before = await s.redis.smembers(`gh:user:{${e.userId}}:backup-codes`)
  // Someone with the session and the password, but not the phone or a code.
  const stolen = await s.send(ip(1), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD }, { cookie: e.cookie })
  t.equal(stolen.status, 400, 'the password alone is not a valid request')
  const guessed = await s.send(ip(1), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: '000000' }, { cookie: e.cookie })
  t.equal(guessed.body.code, 'INVALID_MFA_CODE')
  t.same(await s.redis.smembers(`gh:user:{${e.userId}}:backup-codes`), before, 'the codes are unchanged')

  const answers = await burst(20, async i => await s.send(ip(10 + i), 'POST', '/api/auth/2fa/backup-codes', { password: PASSWORD, code: e.backupCodes[0] }, { cookie: e.cookie }))
  const ok = answers.filter(a => a.status === 200)
  t.equal(ok.length, 1, `one new set (${answers.map(a => a.status).join(' ')})`)
  t.ok(answers.every(a => a.status === 200 || a.body.code === 'INVALID_MFA_CODE' || a.body.code === 'RATE_LIMITED'), `the others: the code was spent, or the account backs off (${answers.map(a => String(a.body.code ?? a.status)).join(' ')})`)
  const now = await s.redis.smembers(`gh:user:{${e.userId}}:backup-codes`)
  t.equal(now.length, 10)
  t.equal(now.filter(d => before.includes(d)).length, 0, 'the stored set is the new one')
  const mails = (await readOutbox(s.outbox)).filter(m => m.to.includes(e.email) && /New backup codes were made/.test(m.body))
  t.equal(mails.length, 1, 'the owner is mailed once')
})
