import t from 'tap'
import { build, PASSWORD } from '../../helper.js'
import { enrolledUser, KEY, post } from '../../support/mfa.js'

t.test('a client without cookies with 2FA on gets a challenge from /token and tokens from /mfa/verify', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY })
  const e = await enrolledUser(ctx)

  const first = await post(ctx, '/token', { email: e.email, password: PASSWORD })
  t.equal(first.statusCode, 200)
  const challenge = first.json()
  t.equal(challenge.mfaRequired, true)
  t.notOk('accessToken' in challenge, 'no token before the second factor')
  t.notOk(first.headers['set-cookie'])

  const verified = await post(ctx, '/mfa/verify', { mfaToken: challenge.mfaToken, code: await e.auth.next() })
  t.equal(verified.statusCode, 200)
  const grant = verified.json()
  t.equal(grant.tokenType, 'Bearer')
  t.notOk(verified.headers['set-cookie'], 'a token login sets no cookie')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${grant.accessToken}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.email, e.email)

  const inline = await post(ctx, '/token', { email: e.email, password: PASSWORD, totpCode: await e.auth.next() })
  t.equal(inline.statusCode, 200)
  t.equal(inline.json().tokenType, 'Bearer')
  const wrong = await post(ctx, '/token', { email: e.email, password: PASSWORD, totpCode: e.auth.lastCode() })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'INVALID_MFA_CODE')
})

t.test('wrong second-factor codes count toward the account back-off', async t => {
  const ctx = await build(t, { DATA_ENCRYPTION_KEY: KEY, LOGIN_FREE_FAILURES: '2', LOGIN_BACKOFF_BASE: '30' })
  const e = await enrolledUser(ctx)
  const codes: number[] = []
  for (let i = 0; i < 4; i++) {
    const res = await post(ctx, '/login', { email: e.email, password: PASSWORD, totpCode: e.auth.codeAgo(5) })
    codes.push(res.statusCode)
  }
  t.same(codes.slice(0, 2), [401, 401], 'free failures answer 401')
  t.equal(codes[3], 429, 'then the account backs off')
  const res = await post(ctx, '/login', { email: e.email, password: PASSWORD, totpCode: await e.auth.next() })
  t.equal(res.statusCode, 429, 'even a right code waits out the back-off')
  t.ok(Number(res.headers['retry-after']) > 0)
})
