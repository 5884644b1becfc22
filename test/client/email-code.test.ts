import t from 'tap'
import type { AddressInfo } from 'node:net'
import { createClient, GatehouseError } from '../../client/src/index.js'
import { build, emailCodeFromOutbox, signedInUser } from '../helper.js'

t.test('the client signs in with an emailed code (cookie mode) and link (bearer mode)', async t => {
  const ctx = await build(t)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const u = await signedInUser(ctx)

  let cookie: string | undefined
  const jarFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers)
    if (cookie !== undefined) headers.set('cookie', cookie)
    const res = await fetch(input, { ...init, headers })
    const session = res.headers.getSetCookie().find(c => c.startsWith('sessionId='))
    if (session !== undefined) cookie = session.split(';')[0]
    return res
  }
  const browser = createClient({ baseUrl: origin, fetch: jarFetch })
  t.match((await browser.requestEmailCode({ email: u.email })).message, /sign-in code/)
  const first = await emailCodeFromOutbox(ctx.outbox, u.email)
  const signedIn = await browser.verifyEmailCode({ email: u.email, code: first.code })
  t.equal(signedIn.mfaRequired, false)
  t.equal((await browser.me()).user.email, u.email)
  t.ok(browser.csrfToken, 'the CSRF token of the sign-in is kept')
  const again = await browser.verifyEmailCode({ email: u.email, code: first.code }).catch((err: unknown) => err)
  t.ok(again instanceof GatehouseError && again.code === 'INVALID_CREDENTIALS', 'a spent code is refused')

  const script = createClient({ baseUrl: origin, mode: 'bearer' })
  await script.requestEmailCode({ email: u.email })
  const second = await emailCodeFromOutbox(ctx.outbox, u.email, 2)
  const grant = await script.verifyEmailCode({ token: second.token })
  t.equal(grant.mfaRequired, false)
  t.ok(script.tokens?.accessToken, 'bearer tokens are held')
  t.equal((await script.me()).user.email, u.email)
})
