import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build, outboxMessages, PASSWORD, signedInUser, uniqueEmail, verifiedUser, type TestContext } from '../helper.js'
import { lastEvent } from './support.js'

const SUBJECT = 'New sign-in to your Gatehouse account'

/** A browser: the device cookie it was given, sent back on its next sign-in. */
class Browser {
  device?: string
  constructor (readonly userAgent: string) {}
  async login (ctx: TestContext, email: string): Promise<LightMyRequestResponse> {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'user-agent': this.userAgent, ...(this.device === undefined ? {} : { cookie: this.device }) },
      payload: { email, password: PASSWORD }
    })
    if (res.statusCode !== 200) throw new Error(`login answered ${res.statusCode}: ${res.body}`)
    const c = res.cookies.find(x => x.name === 'gatehouseDevice')
    if (c !== undefined) this.device = `gatehouseDevice=${c.value}`
    return res
  }
}

async function newDeviceMails (ctx: TestContext, email: string): Promise<string[]> {
  // The mail is posted by a sink, normally before the answer leaves; a slow disk may lag.
  await new Promise(resolve => setTimeout(resolve, 50))
  return (await outboxMessages(ctx.outbox, email)).filter(m => m.subject === SUBJECT).map(m => m.text)
}

t.test('a new browser is mailed about once; the first sign-in after registration is not', async t => {
  const ctx = await build(t)
  const email = await verifiedUser(ctx)
  const laptop = new Browser('Laptop Firefox')
  await laptop.login(ctx, email)
  t.same(await newDeviceMails(ctx, email), [], 'the first sign-in of the account: no mail')
  await laptop.login(ctx, email)
  await laptop.login(ctx, email)
  t.same(await newDeviceMails(ctx, email), [], 'the same browser again: no mail')

  const phone = new Browser('Phone Safari')
  await phone.login(ctx, email)
  const mails = await newDeviceMails(ctx, email)
  t.equal(mails.length, 1, 'a browser not seen on the account: one mail')
  t.match(mails[0], /Phone Safari/)
  t.match(mails[0], /127\.0\.0\.1/)
  t.match(mails[0], /If it was not you, change your password/)
  const userId = (await ctx.app.users.findByEmail(email))!.id
  t.match(await lastEvent(ctx, userId, 'session.signed_in'), { data: { newDevice: true } })

  await phone.login(ctx, email)
  await phone.login(ctx, email)
  t.equal((await newDeviceMails(ctx, email)).length, 1, 'that browser again: no further mail')

  await new Browser('Tablet Chrome').login(ctx, email)
  t.equal((await newDeviceMails(ctx, email)).length, 2, 'a third browser: its own mail')
  t.equal((await newDeviceMails(ctx, uniqueEmail())).length, 0)
})

t.test('a bearer client is known by its user agent', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const token = async (userAgent: string): Promise<void> => {
    const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', headers: { 'user-agent': userAgent }, payload: { email: u.email, password: PASSWORD } })
    t.equal(res.statusCode, 200)
  }
  await token('ExampleApp/2.1 (iOS)')
  await token('ExampleApp/2.1 (iOS)')
  const mails = await newDeviceMails(ctx, u.email)
  t.equal(mails.length, 1, 'one mail for the app, not one per sign-in')
  t.match(mails[0], /ExampleApp\/2\.1/)
})

t.test('another account\'s device cookie does not make a browser known', async t => {
  const ctx = await build(t)
  const a = await verifiedUser(ctx)
  const b = await verifiedUser(ctx)
  const shared = new Browser('Shared PC')
  await new Browser('first').login(ctx, b)
  await shared.login(ctx, a)
  const cookieOfA = shared.device
  await shared.login(ctx, b)
  t.not(shared.device, cookieOfA, 'b gets a device cookie of its own')
  t.equal((await newDeviceMails(ctx, b)).length, 1, 'b is told about the shared PC')
})
