import t from 'tap'
import { Redis } from 'ioredis'
import { LoginThrottle, type FailedAttempt } from '../../src/accounts/login-throttle.js'
import { AuthError } from '../../src/http/errors.js'
import { startTestRedis } from '../helper.js'

/** The seconds of the RATE_LIMITED a reservation is refused with, or 0 when it was taken. */
async function refusedFor (th: LoginThrottle, subject: string, device?: string): Promise<number> {
  try {
    await th.reserve(subject, device)
    return 0
  } catch (err) {
    if (err instanceof AuthError && err.code === 'RATE_LIMITED') return err.retryAfter ?? -1
    throw err
  }
}

/** How long the subject's budget waits now, by the `until` field the script keeps. */
async function waitMs (redis: Redis, th: LoginThrottle, subject: string, fields = ''): Promise<number> {
  const until = await redis.hget(th.key(subject), `${fields}until`)
  const [s, us] = await redis.time()
  return until === null ? 0 : Math.max(0, Number(until) - (Number(s) * 1000 + Math.floor(Number(us) / 1000)))
}

t.test('login throttle', async t => {
  const server = await startTestRedis(t)
  const a = new Redis(server.url)
  const b = new Redis(server.url)
  t.teardown(() => { a.disconnect(); b.disconnect() })
  const opts = { prefix: 'gh:', freeFailures: 5, baseDelayMs: 10_000, maxDelayMs: 900_000, windowMs: 3_600_000 }

  t.test('five reservations are free, then each one starts a wait that doubles from the base up to the cap', async t => {
    const th = new LoginThrottle(a, opts)
    const subject = 'victim@example.com'
    const waits: number[] = []
    for (let i = 0; i < 12; i++) {
      t.equal(await refusedFor(th, subject), 0, `attempt ${i + 1} is reserved`)
      // Whole seconds, as Retry-After would say; then the wait is made to run out at once.
      waits.push(Math.ceil(await waitMs(a, th, subject) / 1000))
      await a.hset(th.key(subject), 'until', 0)
    }
    t.same(waits, [0, 0, 0, 0, 10, 20, 40, 80, 160, 320, 640, 900])
    t.equal(await a.hget(th.key(subject), 'n'), '12', 'every reservation counted')
  })

  t.test('a waiting subject is refused with RATE_LIMITED and a retryAfter, and the refusal counts nothing', async t => {
    const th = new LoginThrottle(a, opts)
    for (let i = 0; i < 5; i++) await th.reserve('x@example.com')
    const retryAfter = await refusedFor(th, 'x@example.com')
    t.ok(retryAfter >= 9 && retryAfter <= 10, `retryAfter ${retryAfter} s`)
    t.equal(await a.hget(th.key('x@example.com'), 'n'), '5', 'a refused attempt is not counted')
  })

  t.test('reservations in flight from two processes are counted as they arrive: only the free ones are taken', async t => {
    const one = new LoginThrottle(a, opts)
    const two = new LoginThrottle(b, opts)
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await refusedFor(i % 2 === 0 ? one : two, i % 3 === 0 ? 'Burst@Example.com ' : 'burst@example.com')))
    t.equal(results.filter(r => r === 0).length, 5, 'five reserved, whatever the spelling or the process')
    t.equal(results.filter(r => r > 0).length, 15, 'fifteen refused')
    const key = one.key('burst@example.com')
    t.match(key, /^gh:login-throttle:\{[A-Za-z0-9_-]{43}\}$/, 'one slot, no address in the key name')
    t.notOk(key.includes('burst'), 'the address is hashed')
  })

  t.test('a device has a budget of its own beside the account\'s', async t => {
    const th = new LoginThrottle(a, opts)
    for (let i = 0; i < 6; i++) await th.reserve('shared@example.com').catch(() => {})
    t.ok(await refusedFor(th, 'shared@example.com') > 0, 'the account backs off')
    t.equal(await refusedFor(th, 'shared@example.com', 'device-1'), 0, 'a known device still has its own budget')
    for (let i = 0; i < 4; i++) await th.reserve('shared@example.com', 'device-1')
    t.ok(await refusedFor(th, 'shared@example.com', 'device-1') > 0, 'which backs off after its own free failures')
    t.equal(await refusedFor(th, 'shared@example.com', 'device-2'), 0, 'another device is not affected')
  })

  t.test('guard keeps wrong secrets counted, refunds what tested none, and resets on success', async t => {
    const th = new LoginThrottle(a, { ...opts, freeFailures: 2 })
    const wrong = async (): Promise<never> => { throw new AuthError('INVALID_CREDENTIALS') }
    const unverified = async (): Promise<never> => { throw new AuthError('EMAIL_NOT_VERIFIED') }
    await t.rejects(th.guard('g@example.com', unverified), { code: 'EMAIL_NOT_VERIFIED' })
    t.equal(await a.hget(th.key('g@example.com'), 'n'), '0', 'an attempt that tested no secret is refunded')
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    t.equal(await a.hget(th.key('g@example.com'), 'n'), '1')
    t.equal(await th.guard('g@example.com', async () => 'ok'), 'ok')
    t.equal(await a.exists(th.key('g@example.com')), 0, 'reset by the success')
    t.equal(await th.guard('g@example.com', async () => 'half', undefined, () => false), 'half')
    t.equal(await a.hget(th.key('g@example.com'), 'n'), '0', 'a success that does not complete the sign-in is refunded, not reset')
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    let ran = false
    await t.rejects(th.guard('g@example.com', async () => { ran = true }), { code: 'RATE_LIMITED' })
    t.notOk(ran, 'no secret check while backing off')
  })

  t.test('guard tells of wrong secrets for an account its identifier names, guardAccount for the account it is given, and of nobody else', async t => {
    const ids: Record<string, string> = { 'known@example.com': 'user-by-email' }
    const th = new LoginThrottle(a, {
      ...opts,
      prefix: 'gh:told:',
      freeFailures: 3,
      resolve: async identifier => ids[identifier] ?? null
    })
    const wrong = async (): Promise<never> => { throw new AuthError('INVALID_CREDENTIALS') }
    const told: FailedAttempt[] = []
    const failed = async (f: FailedAttempt): Promise<void> => { told.push(f) }
    const seen: Array<string | undefined> = []
    await t.rejects(th.guard('known@example.com', async (accountId) => { seen.push(accountId); return await wrong() }, undefined, () => true, failed), { code: 'INVALID_CREDENTIALS' })
    t.same(seen, ['user-by-email'], 'the check is told the account the identifier named')
    await t.rejects(th.guardAccount('user-by-id', wrong, undefined, () => true, failed), { code: 'INVALID_CREDENTIALS' })
    // A user id typed as a login identifier names no account: nobody is told (it spends
    // the budget under that string, which is the account's).
    await t.rejects(th.guard('user-by-id', wrong, undefined, () => true, failed), { code: 'INVALID_CREDENTIALS' })
    await t.rejects(th.guard('nobody@example.com', wrong, undefined, () => true, failed), { code: 'INVALID_CREDENTIALS' })
    await t.rejects(th.guardAccount('user-by-id', wrong, undefined, () => true, failed), { code: 'INVALID_CREDENTIALS' })
    t.same(told, [
      { userId: 'user-by-email', failures: 1, backoffStarted: false, device: false },
      { userId: 'user-by-id', failures: 1, backoffStarted: false, device: false },
      { userId: 'user-by-id', failures: 3, backoffStarted: true, device: false }
    ])
  })

  t.test('the wait runs out and the key expires: the lock is never permanent', async t => {
    const th = new LoginThrottle(a, { ...opts, freeFailures: 1, baseDelayMs: 1000, maxDelayMs: 1000, windowMs: 2000 })
    await th.reserve('short@example.com')
    t.ok(await refusedFor(th, 'short@example.com') > 0)
    const ttl = await a.pttl(th.key('short@example.com'))
    t.ok(ttl > 0 && ttl <= 3000, `the key expires with the wait plus the window (${ttl} ms)`)
    await new Promise(resolve => setTimeout(resolve, 1100))
    t.equal(await refusedFor(th, 'short@example.com'), 0, 'the next attempt is taken once the wait has run out')
  })
})
