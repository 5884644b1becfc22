import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import { build, CookieJar, cookieOf, listen, request, uniqueEmail, verifiedUser, PASSWORD, type LinkKind, type TestContext } from '../../helper.js'
import { decodeSession } from '../../../src/sessions/record.js'
import { closedPort, linkToken, startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js'

const NEW_PASSWORD = 'violet mountain ferry lantern'
const ORIGIN = 'https://gatehouse.test'

interface Ctx extends TestContext {
  sink: SmtpSink
  /** the token of the last `kind` link that arrived over SMTP for `to` */
  tokenFor: (to: string, kind: LinkKind) => Promise<string>
}

async function setup (tt: Test, env: Record<string, string> = {}): Promise<Ctx> {
  const sink = await startSmtpSink(tt)
  const ctx = await build(tt, { SMTP_URL: sink.url, APP_ORIGIN: ORIGIN, ...env })
  const tokenFor = async (to: string, kind: LinkKind): Promise<string> => {
    await ctx.app.mailer.drain()
    return linkToken(sink.to(to).at(-1)!, ORIGIN, kind)
  }
  return { ...ctx, sink, tokenFor }
}

async function login (ctx: Ctx, email: string, password: string): Promise<{ status: number, cookie?: string }> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } })
  return { status: res.statusCode, cookie: cookieOf(res) }
}

async function me (ctx: Ctx, cookie: string): Promise<number> {
  return (await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode
}

async function forgot (ctx: Ctx, email: string, remoteAddress = '127.0.0.1') {
  return await ctx.app.inject({ method: 'POST', url: '/api/auth/password/forgot', payload: { email }, remoteAddress })
}

/** Asks for a reset and returns the token of the link that arrived over SMTP. */
async function resetToken (ctx: Ctx, email: string): Promise<string> {
  const res = await forgot(ctx, email)
  if (res.statusCode !== 202) throw new Error(`forgot answered ${res.statusCode}`)
  await ctx.app.mailer.drain()
  const mail = ctx.sink.to(email).filter(m => m.subject === 'Reset your Gatehouse password').at(-1)
  if (mail === undefined) throw new Error('no reset mail arrived')
  return linkToken(mail, ORIGIN, 'reset-password')
}

async function reset (ctx: Pick<Ctx, 'app'>, token: string, password = NEW_PASSWORD) {
  return await ctx.app.inject({ method: 'POST', url: '/api/auth/password/reset', payload: { token, password } })
}

t.test('forgot, the link from the mail, reset: the new password signs in and the old one does not', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const res = await forgot(ctx, email)
  t.equal(res.statusCode, 202)
  t.same(res.json(), { message: 'If the address belongs to an account, a password reset email is on its way.' })
  await ctx.app.mailer.drain()
  const mail = ctx.sink.to(email).at(-1)!
  t.equal(mail.subject, 'Reset your Gatehouse password')
  t.ok(mail.secure, 'smtp:// was upgraded with STARTTLS')
  t.match(mail.text, /30 minutes/)
  t.match(mail.html, /<a href="https:\/\/gatehouse\.test\/reset-password\?token=/)
  t.equal(mail.headers.get('auto-submitted'), 'auto-generated')
  const token = linkToken(mail, ORIGIN, 'reset-password')
  t.ok(Buffer.from(token, 'base64url').length >= 32, 'the token carries 256 bits')
  t.notOk(JSON.stringify(await ctx.redis.keys('*')).includes(token), 'Redis does not hold the token itself')

  const done = await reset(ctx, token)
  t.equal(done.statusCode, 200)
  t.same(done.json(), { message: 'Password reset; sign in with the new password.' })
  t.equal((await login(ctx, email, NEW_PASSWORD)).status, 200)
  t.equal((await login(ctx, email, PASSWORD)).status, 401)

  await ctx.app.mailer.drain()
  const notice = ctx.sink.to(email).at(-1)!
  t.equal(notice.subject, 'Your Gatehouse password was changed')
  t.match(notice.text, /reset with an emailed link/)
  t.ok(notice.html.length > 0, 'the notice has an HTML part')
})

t.test('an unknown, a disabled and a known address get the same 202; only the known one gets mail', async t => {
  const ctx = await setup(t)
  const known = await verifiedUser(ctx, uniqueEmail('pw'))
  const disabled = await verifiedUser(ctx, uniqueEmail('pw'))
  const u = await ctx.app.users.findByEmail(disabled)
  await ctx.app.users.update(u!.id, { disabled: true })
  const unknown = uniqueEmail('nobody')
  const before = ctx.sink.mails.length
  const answers = []
  for (const email of [known, unknown, disabled]) {
    const res = await forgot(ctx, email)
    answers.push({ status: res.statusCode, body: res.body, type: res.headers['content-type'] })
  }
  await ctx.app.mailer.drain()
  t.same(answers[1], answers[0])
  t.same(answers[2], answers[0])
  const sent = ctx.sink.mails.slice(before)
  t.equal(sent.length, 1)
  t.same(sent[0].to, [known])
  t.equal((await ctx.redis.keys('gh:reset:*')).length, 1, 'a token only for the known account')
})

/** Two cookie jars over a real socket, each signed in as `email`: a laptop and a phone. */
async function twoDevices (t: Test, ctx: Ctx, email: string): Promise<[CookieJar, CookieJar]> {
  const base = await listen(ctx.app)
  const jars: [CookieJar, CookieJar] = [new CookieJar(base), new CookieJar(base)]
  for (const jar of jars) t.equal((await jar.send('POST', '/api/auth/login', { body: { email, password: PASSWORD } })).status, 200, 'signed in')
  return jars
}

t.test('a reset ends the sessions held in two other cookie jars', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const [laptop, phone] = await twoDevices(t, ctx, email)
  for (const jar of [laptop, phone]) t.equal((await jar.send('GET', '/api/auth/me')).status, 200)
  const held = { laptop: laptop.cookie, phone: phone.cookie }
  const token = await resetToken(ctx, email)
  const stranger = new CookieJar(laptop.base)
  t.equal((await stranger.send('POST', '/api/auth/password/reset', { body: { token, password: NEW_PASSWORD } })).status, 200)
  for (const jar of [laptop, phone]) {
    const res = await jar.send('GET', '/api/auth/me')
    t.equal(res.status, 401)
    t.equal(res.body.code, 'UNAUTHENTICATED')
  }
  t.equal(await me(ctx, held.laptop), 401)
  t.equal(await me(ctx, held.phone), 401)
  const user = await ctx.app.users.findByEmail(email)
  t.equal((await ctx.app.sessionStore.indexed(user!.id)).length, 0, 'the session index is empty')
  t.same(await ctx.redis.keys('gh:sess:*'), [], 'no session is left in Redis')
})

t.test('a reset sent with a session of the same user expires that cookie', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const { cookie } = await login(ctx, email, PASSWORD)
  const token = await resetToken(ctx, email)
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/reset', headers: { cookie: cookie! }, payload: { token, password: NEW_PASSWORD } })
  t.equal(res.statusCode, 200)
  const sent = res.cookies.find(c => c.name === 'sessionId')
  t.ok(sent !== undefined && (sent.value === '' || sent.maxAge === 0 || (sent.expires !== undefined && sent.expires.getTime() < Date.now())), 'the cookie comes back expired')
  t.equal(await me(ctx, cookie!), 401)
})

t.test('a change keeps the current session under a new id and ends the others', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const [current, other] = await twoDevices(t, ctx, email)
  const oldCookie = current.cookie
  const before = await current.send('GET', '/api/auth/me')
  const user = await ctx.app.users.findByEmail(email)
  const sessionKeysBefore = await ctx.redis.keys('gh:sess:*')
  t.equal(sessionKeysBefore.length, 2)

  const res = await current.send('POST', '/api/auth/password/change', { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })
  t.equal(res.status, 200)
  t.same(res.body, { message: 'Password changed; other sessions were signed out.' })
  t.not(current.cookie, oldCookie, 'a new session id came back')
  t.not(current.cookie, '')

  const after = await current.send('GET', '/api/auth/me')
  t.equal(after.status, 200, 'the current session goes on')
  t.equal(after.body.user.id, user!.id)
  t.not(after.body.csrfToken, before.body.csrfToken, 'the CSRF token follows the new id')
  t.equal(after.body.session.expiresAt.slice(0, 10), before.body.session.expiresAt.slice(0, 10))
  t.equal(await me(ctx, oldCookie), 401, 'the old id is dead')
  t.equal((await other.send('GET', '/api/auth/me')).status, 401, 'the other session ended')
  const sessionKeysAfter = await ctx.redis.keys('gh:sess:*')
  t.equal(sessionKeysAfter.length, 1)
  t.notOk(sessionKeysBefore.includes(sessionKeysAfter[0]), 'the remaining session is stored under a new digest')
  t.equal((await ctx.app.sessionStore.indexed(user!.id)).length, 1)
  const stored = decodeSession((await ctx.redis.get(sessionKeysAfter[0]))!, ctx.app.sessionStore.absoluteTtlMs)
  t.equal(stored.userId, user!.id)

  t.equal((await login(ctx, email, NEW_PASSWORD)).status, 200)
  t.equal((await login(ctx, email, PASSWORD)).status, 401)
  await ctx.app.mailer.drain()
  // The last of its kind: the sign-ins above, from "browsers" without the device cookie, are mailed about too.
  const notice = ctx.sink.to(email).filter(m => m.subject === 'Your Gatehouse password was changed').at(-1)!
  t.ok(notice, 'the owner is told')
  t.match(notice.text, /changed from a signed-in session/)
})

t.test('a change with a wrong current password is 401 INVALID_CREDENTIALS and changes nothing', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const a = await login(ctx, email, PASSWORD)
  const b = await login(ctx, email, PASSWORD)
  // Only the change's notice counts: sign-ins from "browsers" without the device cookie are mailed about.
  const notices = (): number => ctx.sink.mails.filter(m => m.subject === 'Your Gatehouse password was changed').length
  const mails = notices()
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/change', headers: { cookie: a.cookie! }, payload: { currentPassword: 'not the password at all', newPassword: NEW_PASSWORD } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'INVALID_CREDENTIALS')
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.ok(cookieOf(res) === undefined || cookieOf(res) === a.cookie, 'the session keeps its id')
  t.equal(await me(ctx, a.cookie!), 200)
  t.equal(await me(ctx, b.cookie!), 200)
  t.equal((await login(ctx, email, PASSWORD)).status, 200)
  await ctx.app.mailer.drain()
  t.equal(notices(), mails, 'no notice')
})

t.test('a change needs a session, and the new password goes through the policy', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const anon = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/change', payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().code, 'UNAUTHENTICATED')
  const { cookie } = await login(ctx, email, PASSWORD)
  for (const [newPassword, field] of [['password', 'newPassword'], ['short', 'newPassword'], [PASSWORD, 'newPassword']] as const) {
    const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/change', headers: { cookie: cookie! }, payload: { currentPassword: PASSWORD, newPassword } })
    t.equal(res.statusCode, 400, newPassword)
    t.equal(res.json().code, 'VALIDATION_FAILED')
    t.ok(res.json().fieldErrors[field], `fieldErrors names ${field}`)
  }
  t.equal(await me(ctx, cookie!), 200)
  t.equal((await login(ctx, email, PASSWORD)).status, 200)
})

t.test('used, made-up, superseded and revoked tokens get 400 INVALID_TOKEN', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))

  const used = await resetToken(ctx, email)
  t.equal((await reset(ctx, used)).statusCode, 200)
  const again = await reset(ctx, used, 'yet another fine passphrase')
  t.equal(again.statusCode, 400)
  t.equal(again.json().code, 'INVALID_TOKEN')

  const madeUp = await reset(ctx, 'A'.repeat(43))
  t.equal(madeUp.statusCode, 400)
  t.equal(madeUp.json().code, 'INVALID_TOKEN')

  const older = await resetToken(ctx, email)
  const newer = await resetToken(ctx, email)
  t.equal((await reset(ctx, older)).json().code, 'INVALID_TOKEN', 'a newer link makes the older one useless')

  const { cookie } = await login(ctx, email, NEW_PASSWORD)
  const change = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/change', headers: { cookie: cookie! }, payload: { currentPassword: NEW_PASSWORD, newPassword: 'the changed passphrase' } })
  t.equal(change.statusCode, 200)
  t.equal((await reset(ctx, newer)).json().code, 'INVALID_TOKEN', 'a change revokes outstanding links')
  t.equal((await login(ctx, email, 'the changed passphrase')).status, 200)
  t.same(await ctx.redis.keys('gh:reset:*'), [])
})

t.test('a password the policy refuses does not burn the link', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const token = await resetToken(ctx, email)
  const weak = await reset(ctx, token, 'password123')
  t.equal(weak.statusCode, 400)
  t.equal(weak.json().code, 'VALIDATION_FAILED')
  t.ok(weak.json().fieldErrors.password)
  t.equal((await reset(ctx, token)).statusCode, 200)
})

t.test('an expired token gets 400 INVALID_TOKEN', async t => {
  const ctx = await setup(t, { RESET_TOKEN_TTL: '1' })
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const token = await resetToken(ctx, email)
  t.match(ctx.sink.to(email).at(-1)!.text, /1 minutes|for 1 minute/)
  // Wait for Redis to expire the key rather than for a fixed time.
  while ((await ctx.redis.keys('gh:reset:*')).length > 0) await new Promise(resolve => setTimeout(resolve, 100))
  const res = await reset(ctx, token)
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'INVALID_TOKEN')
  t.equal((await login(ctx, email, PASSWORD)).status, 200, 'the password is unchanged')
})

t.test('two concurrent resets with one token succeed at most once', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const base = await listen(ctx.app)
  for (let round = 0; round < 5; round++) {
    const token = await resetToken(ctx, email)
    const passwords = [`first concurrent passphrase ${round}`, `second concurrent passphrase ${round}`]
    const results = await Promise.all(passwords.map(async password => {
      const res = await request(base, 'POST', '/api/auth/password/reset', { body: { token, password } })
      return { status: res.status, body: res.body as { code?: string }, password }
    }))
    const ok = results.filter(r => r.status === 200)
    t.equal(ok.length, 1, `round ${round}: exactly one succeeds`)
    t.same(results.filter(r => r.status !== 200).map(r => [r.status, r.body.code]), [[400, 'INVALID_TOKEN']])
    const lost = results.find(r => r.status !== 200)!
    t.equal((await login(ctx, email, ok[0].password)).status, 200, 'the winner\'s password is the one set')
    t.equal((await login(ctx, email, lost.password)).status, 401)
  }
})

t.test('bad input gets a 4xx problem and changes nothing', async t => {
  const ctx = await setup(t)
  const email = await verifiedUser(ctx, uniqueEmail('pw'))
  const { cookie } = await login(ctx, email, PASSWORD)
  const token = await resetToken(ctx, email)
  const mailsBefore = ctx.sink.mails.length
  const keysBefore = (await ctx.redis.keys('*')).sort()
  const hashBefore = (await ctx.app.users.findByEmail(email))!.passwordHash

  const huge = 'x'.repeat(17 * 1024)
  const cases: Array<[string, unknown, number, string?]> = [
    ['/password/forgot', { email: 42 }, 400],
    ['/password/forgot', { email: [email] }, 400],
    ['/password/forgot', {}, 400],
    ['/password/forgot', { email, extra: true }, 400],
    ['/password/forgot', { email: `${huge}@example.com` }, 413],
    ['/password/forgot', { email: 'not-an-address' }, 400],
    ['/password/forgot', { email: 'nul\u0000@example.com' }, 400],
    ['/password/forgot', { email: 'rtl\u202e@example.com' }, 400],
    ['/password/forgot', { email: 'zero\u200bwidth@example.com' }, 400],
    ['/password/forgot', { email: 'lone\ud800@example.com' }, 400],
    ['/password/reset', { token }, 400],
    ['/password/reset', { password: NEW_PASSWORD }, 400],
    ['/password/reset', { token, password: NEW_PASSWORD, email }, 400],
    ['/password/reset', { token: 12345, password: NEW_PASSWORD }, 400],
    ['/password/reset', { token, password: ['a list', 'of strings'] }, 400],
    ['/password/reset', { token: token + '\u0000', password: NEW_PASSWORD }, 400],
    ['/password/reset', { token: token.slice(0, 20) + '\u00e9' + token.slice(21), password: NEW_PASSWORD }, 400],
    ['/password/reset', { token, password: 'x'.repeat(129) }, 400],
    ['/password/reset', { token, password: '\ud800\ud800\ud800\ud800\ud800\ud800\ud800\ud800' }, 400],
    ['/password/reset', { token, password: huge }, 413],
    ['/password/change', { currentPassword: PASSWORD }, 400],
    ['/password/change', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, role: 'admin' }, 400],
    ['/password/change', { currentPassword: PASSWORD, newPassword: 12345678 }, 400],
    ['/password/change', { currentPassword: PASSWORD, newPassword: '\udfff'.repeat(10) }, 400]
  ]
  for (const [path, payload, status] of cases) {
    const res = await ctx.app.inject({ method: 'POST', url: `/api/auth${path}`, headers: { cookie: cookie!, 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
    t.equal(res.statusCode, status, `${path} ${JSON.stringify(payload).slice(0, 80)}`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json(), { status, code: String })
  }
  const raw = [
    ['/password/forgot', 'text/plain', 'email=a@b.c', 415],
    ['/password/forgot', 'application/x-www-form-urlencoded', 'email=a@b.c', 415],
    ['/password/forgot', 'application/json', '{"email":', 400],
    ['/password/forgot', 'application/json', '{"__proto__":{"email":"x@example.com"}}', 400],
    ['/password/reset', 'application/json', 'null', 400]
  ] as const
  for (const [path, type, body, status] of raw) {
    const res = await ctx.app.inject({ method: 'POST', url: `/api/auth${path}`, headers: { 'content-type': type }, payload: body })
    t.equal(res.statusCode, status, `${path} ${type} ${body}`)
  }
  await ctx.app.mailer.drain()
  t.equal(ctx.sink.mails.length, mailsBefore, 'no mail was sent')
  t.same((await ctx.redis.keys('*')).filter(k => !k.startsWith('gh:rl:')).sort(), keysBefore.filter(k => !k.startsWith('gh:rl:')), 'Redis holds the same keys')
  t.equal((await ctx.app.users.findByEmail(email))!.passwordHash, hashBefore, 'the password is unchanged')
  t.equal(await me(ctx, cookie!), 200, 'the session lives')
  t.equal((await reset(ctx, token)).statusCode, 200, 'the link still works')
})

t.test('forgot and resend are limited per client IP and per target address, the same way for any address', async t => {
  const ctx = await setup(t, { EMAIL_TOKEN_RATE_LIMIT: '3', EMAIL_ADDRESS_RATE_LIMIT: '2' })
  const known = await verifiedUser(ctx, uniqueEmail('pw'))
  const unknown = uniqueEmail('ghost')
  // Registering counted against the address too (one budget for all mail to it); start afresh.
  for (const key of await ctx.redis.keys('gh:rl:*')) await ctx.redis.del(key)
  const answers: Record<string, Array<{ status: number, body: string, retry?: string }>> = { known: [], unknown: [] }
  // Each request from its own IP, so only the per-address cap can bite: reset requests are
  // counted per address and client, under a cap of four budgets per address.
  let ip = 10
  for (const [label, email] of [['known', known], ['unknown', unknown]] as const) {
    for (let i = 0; i < 9; i++) {
      const res = await forgot(ctx, email, `10.0.0.${ip++}`)
      answers[label].push({ status: res.statusCode, body: res.body, retry: res.headers['retry-after'] as string | undefined })
    }
  }
  t.same(answers.known.map(a => a.status), [...Array(8).fill(202), 429])
  t.same(answers.unknown.map(a => a.status), [...Array(8).fill(202), 429])
  t.equal(answers.known[8].body, answers.unknown[8].body, 'the same 429 for both')
  t.equal(JSON.parse(answers.known[8].body).code, 'RATE_LIMITED')
  t.ok(Number(answers.known[8].retry) > 0, 'with Retry-After')
  const resend = await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email/resend', payload: { email: known }, remoteAddress: '10.0.1.1' })
  t.equal(resend.statusCode, 202, 'reset requests never spend the verification budget (and the other way round)')
  const spelled = await forgot(ctx, `  ${known.toUpperCase()} `, '10.0.1.2')
  t.equal(spelled.statusCode, 429, 'another spelling of the address is the same address')
  await ctx.app.mailer.drain()
  t.equal(ctx.sink.to(known).filter(m => m.subject === 'Reset your Gatehouse password').length, 8, 'no more than the cap reached the mailbox')

  // One IP, many addresses: the per-IP limit.
  const fromOneIp = []
  for (let i = 0; i < 4; i++) fromOneIp.push((await forgot(ctx, uniqueEmail('spray'), '10.0.2.1')).statusCode)
  t.same(fromOneIp, [202, 202, 202, 429])
})

t.test('with SMTP down, forgot answers the same 202, and the message is parked with its link and logged', async t => {
  const port = await closedPort()
  const ctx = await build(t, { SMTP_URL: `smtp://127.0.0.1:${port}`, APP_ORIGIN: ORIGIN, MAIL_SEND_ATTEMPTS: '2', MAIL_RETRY_DELAY_MS: '10' })
  // Register and verify without mail: the server cannot send any.
  const email = uniqueEmail('down')
  const hash = await ctx.app.hasher.hash(PASSWORD)
  const created = await ctx.app.users.create({ email, passwordHash: hash, emailVerified: true })
  t.ok(created.ok)
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/forgot', payload: { email } })
  t.equal(res.statusCode, 202)
  t.same(res.json(), { message: 'If the address belongs to an account, a password reset email is on its way.' })
  await ctx.app.mailer.drain()
  const failedDir = join(ctx.outbox, 'failed')
  const files = await readdir(failedDir)
  t.equal(files.length, 1, 'the message is parked')
  const raw = await readFile(join(failedDir, files[0]), 'utf8')
  t.match(raw, /^Subject: Reset your Gatehouse password$/m)
  t.match(raw, /^Message-ID: <[^>]+>$/m)
  t.ok(files[0].includes(raw.match(/^Message-ID: <([^>]+)>$/m)![1].replace(/[^A-Za-z0-9.@-]/g, '')), 'the file is named by its Message-ID')
  const token = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=').match(/reset-password\?token=([A-Za-z0-9_-]+)/)![1]
  t.equal((await reset(ctx, token)).statusCode, 200, 'the parked link works when resent in time')
  await ctx.app.mailer.drain()
  t.equal((await readdir(failedDir)).length, 2, 'the notice of the reset is parked too')
})
