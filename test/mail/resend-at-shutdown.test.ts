import t from 'tap'
import { build, outboxMessages, registerUser, uniqueEmail } from '../helper.js'

t.test('a resend answered just before shutdown still mails its link before Redis closes', async t => {
  const ctx = await build(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' })
  const email = uniqueEmail('late')
  await registerUser(ctx, email)
  const before = (await outboxMessages(ctx.outbox, email)).length
  const r = await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email/resend', payload: { email } })
  t.equal(r.statusCode, 202)
  await ctx.app.close()
  t.equal((await outboxMessages(ctx.outbox, email)).length, before + 1, 'the link was made (Redis still open) and mailed during close, not lost')
})
