import t from 'tap'
import { build, outboxMessages, PASSWORD, registerUser, tokenFromOutbox, uniqueEmail } from '../../helper.js'

t.test('registration and email verification', async t => {
  const ctx = await build(t)
  const { app } = ctx

  t.test('register answers 202, stores a normalised, unverified user with an Argon2id hash, and mails a link', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: '  Ｍixed.Case@Example.COM ', password: PASSWORD, username: 'linus_t', firstName: ' Linus ', lastName: 'Torvalds' } })
    t.equal(res.statusCode, 202)
    t.same(Object.keys(res.json()), ['message'])
    const user = await app.users.findByEmail('mixed.case@example.com')
    t.ok(user, 'email trimmed, NFKC-normalised (fullwidth M), lower-cased')
    t.equal(user!.emailVerified, false)
    t.equal(user!.firstName, 'Linus')
    t.equal(user!.role, 'user')
    t.match(user!.passwordHash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
    t.match(user!.id, /^[0-9a-f-]{36}$/)
    const mails = await outboxMessages(ctx.outbox, 'mixed.case@example.com')
    t.equal(mails.length, 1)
    t.match(mails[0].subject, /Verify your email/)
    t.match(mails[0].raw, /Content-Type: multipart\/alternative/, 'plain-text and HTML parts')
    t.match(mails[0].raw, /^Message-ID: </m)
    t.match(mails[0].raw, /^Date: /m)
    const token = await tokenFromOutbox(ctx.outbox, 'mixed.case@example.com', 'verify-email')
    t.ok(token.length >= 43, '256-bit token')
    const raw = await ctx.redis.keys('*')
    t.notOk(raw.some(k => k.includes(token)), 'token stored only as a digest')
  })

  t.test('verify-email confirms the address once; a used or made-up token is 400 INVALID_TOKEN', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email)
    const token = await tokenFromOutbox(ctx.outbox, email, 'verify-email')
    const ok = await app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.json().user.email, email)
    t.equal(ok.json().user.emailVerified, true)
    const again = await app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
    t.equal(again.statusCode, 400)
    t.equal(again.json().code, 'INVALID_TOKEN')
    const madeUp = await app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token: 'A'.repeat(43) } })
    t.equal(madeUp.json().code, 'INVALID_TOKEN')
  })

  t.test('an expired verification token is INVALID_TOKEN', async t => {
    const short = await build(t, { VERIFY_TOKEN_TTL: '1' }, ctx.server)
    const email = uniqueEmail()
    await registerUser(short, email)
    const token = await tokenFromOutbox(short.outbox, email, 'verify-email')
    await new Promise(resolve => setTimeout(resolve, 1200))
    const res = await short.app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
    t.equal(res.json().code, 'INVALID_TOKEN')
  })

  t.test('registering a taken address answers the same 202, changes nothing, and tells the owner', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email)
    const token = await tokenFromOutbox(ctx.outbox, email, 'verify-email')
    await app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
    const before = await app.users.findByEmail(email)
    const fresh = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: uniqueEmail(), password: PASSWORD } })
    const dup = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: email.toUpperCase(), password: 'another password 123' } })
    t.equal(dup.statusCode, 202)
    t.same(dup.json(), fresh.json(), 'same body as a new address')
    const after = await app.users.findByEmail(email)
    t.same(after, before, 'the existing account is unchanged')
    const mails = await outboxMessages(ctx.outbox, email)
    t.match(mails.at(-1)!.subject, /already|tried to register/i)
  })

  t.test('two concurrent registrations of one address create one user', async t => {
    const email = uniqueEmail('race')
    const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: PASSWORD } })))
    t.same(answers.map(a => a.statusCode), Array(8).fill(202))
    const users = (await app.users.list()).filter(u => u.email === email)
    t.equal(users.length, 1)
  })

  t.test('a taken username creates nothing and answers the same 202', async t => {
    await registerUser(ctx, uniqueEmail(), PASSWORD, { username: 'unique_name' })
    const email = uniqueEmail()
    const res = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: PASSWORD, username: 'Unique_Name' } })
    t.equal(res.statusCode, 202)
    t.equal(await app.users.findByEmail(email), null)
    t.equal(await ctx.redis.exists(`gh:email:${email}`), 0, 'the email claim was released')
  })

  t.test('resend answers 202 for any address and only mails unverified accounts', async t => {
    const email = uniqueEmail()
    await registerUser(ctx, email)
    const known = await app.inject({ method: 'POST', url: '/api/auth/verify-email/resend', payload: { email } })
    const unknown = await app.inject({ method: 'POST', url: '/api/auth/verify-email/resend', payload: { email: uniqueEmail('ghost') } })
    t.equal(known.statusCode, 202)
    t.same(known.json(), unknown.json())
    // the resend mail goes out after the answer, so that its timing reveals nothing
    for (let i = 0; i < 200 && (await outboxMessages(ctx.outbox, email)).length < 2; i++) await new Promise(resolve => setTimeout(resolve, 25))
    t.equal((await outboxMessages(ctx.outbox, email)).length, 2)
    // the older link no longer works once a new one is sent
    const mails = await outboxMessages(ctx.outbox, email)
    const first = mails[0].raw.replace(/=\r?\n/g, '').match(/verify-email\?token=3D([A-Za-z0-9_-]+)|verify-email\?token=([A-Za-z0-9_-]+)/)!
    const oldToken = first[1] ?? first[2]
    const res = await app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token: oldToken } })
    t.equal(res.json().code, 'INVALID_TOKEN')
  })

  t.test('a common or short password is refused with fieldErrors', async t => {
    const common = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: uniqueEmail(), password: 'password123' } })
    t.equal(common.statusCode, 400)
    t.match(common.json(), { code: 'VALIDATION_FAILED', fieldErrors: { password: [/common/] }, formErrors: [] })
    const short = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: uniqueEmail(), password: 'short' } })
    t.match(short.json(), { code: 'VALIDATION_FAILED', fieldErrors: { password: [String] } })
    const long = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: uniqueEmail(), password: 'x'.repeat(129) } })
    t.equal(long.statusCode, 400)
  })
})
