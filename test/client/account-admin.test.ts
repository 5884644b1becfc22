import t from 'tap'
import type { AddressInfo } from 'node:net'
import { createClient, GatehouseError } from '../../client/src/index.js'
import { build, PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail } from '../helper.js'

// Many sign-ups (each an Argon2 hash) on a machine the whole suite shares.
t.setTimeout(300_000)

t.test('the client covers the account and the admin API (bearer mode)', async t => {
  const ctx = await build(t)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const a = await signedInUser(ctx, uniqueEmail('admin'))
  await ctx.app.users.update(a.userId, { role: 'admin' })
  const admin = createClient({ baseUrl, mode: 'bearer' })
  await admin.login({ email: a.email, password: PASSWORD })

  const email = uniqueEmail('made')
  const made = await admin.adminCreateUser({ email, password: PASSWORD, emailVerified: true })
  t.equal(made.email, email)
  const page = await admin.adminListUsers({ query: 'made', limit: '10' })
  t.same(page.users.map(u => u.id), [made.id])
  t.equal(page.nextCursor, null)
  t.equal((await admin.adminUpdateUser(made.id, { firstName: 'Made' })).firstName, 'Made')
  t.equal((await admin.adminGetUser(made.id)).mfa.enabled, false)
  await admin.adminAction(made.id, 'disable')
  t.equal((await admin.adminGetUser(made.id)).user.disabled, true)
  await admin.adminAction(made.id, 'enable')

  const user = createClient({ baseUrl, mode: 'bearer' })
  await user.login({ email, password: PASSWORD })
  t.equal((await user.updateProfile({ username: 'made_it' })).user.username, 'made_it')
  const newEmail = uniqueEmail('moved')
  await user.requestEmailChange({ newEmail, password: PASSWORD })
  t.equal((await user.confirmEmailChange({ token: await tokenFromOutbox(ctx.outbox, newEmail, 'confirm-email') })).user.email, newEmail)
  await user.cancelEmailChange({ token: await tokenFromOutbox(ctx.outbox, email, 'cancel-email-change') })
  await user.login({ email, password: PASSWORD })
  await user.deleteAccount({ password: PASSWORD })
  const gone = await admin.adminGetUser(made.id).catch((err: unknown) => err)
  t.ok(gone instanceof GatehouseError && gone.code === 'NOT_FOUND', 'the account is gone')

  const other = await admin.adminCreateUser({ email: uniqueEmail('other') })
  await admin.adminDeleteUser(other.id)
  const refused = await admin.adminDeleteUser(a.userId).catch((err: unknown) => err)
  t.ok(refused instanceof GatehouseError && refused.code === 'OWN_ACCOUNT')
})
