import t from 'tap'
import { Redis } from 'ioredis'
import { LoginThrottle } from '../../src/accounts/login-throttle.js'
import { AuthError } from '../../src/http/errors.js'
import { startTestRedis } from '../helper.js'

t.test('login throttle', async t => {
  const server = await startTestRedis(t)
  const a = new Redis(server.url)
  const b = new Redis(server.url)
  t.teardown(() => { a.disconnect(); b.disconnect() })
  const opts = { prefix: 'gh:', freeFailures: 5, baseDelayMs: 10_000, maxDelayMs: 900_000, windowMs: 3_600_000 }

  t.test('five failures are free, then the wait doubles from the base up to the cap', async t => {
    const th = new LoginThrottle(a, opts)
    const waits: number[] = []
    for (let i = 0; i < 12; i++) waits.push(await th.recordFailure('victim@example.com'))
    t.same(waits, [0, 0, 0, 0, 10, 20, 40, 80, 160, 320, 640, 900].map(s => s * 1000))
    const left = await th.check('victim@example.com')
    t.ok(left > 890_000 && left <= 900_000, `waits at most the cap (${left} ms)`)
  })

  t.test('a waiting subject is refused with RATE_LIMITED and a retryAfter', async t => {
    const th = new LoginThrottle(a, opts)
    for (let i = 0; i < 5; i++) await th.recordFailure('x@example.com')
    const err = await th.assertAllowed('x@example.com').then(() => null, (e: unknown) => e)
    t.ok(err instanceof AuthError)
    t.equal((err as AuthError).code, 'RATE_LIMITED')
    t.ok((err as AuthError).retryAfter! >= 9 && (err as AuthError).retryAfter! <= 10)
  })

  t.test('the count is shared by every process and keyed by the normalised identifier', async t => {
    const one = new LoginThrottle(a, opts)
    const two = new LoginThrottle(b, opts)
    for (let i = 0; i < 4; i++) await (i % 2 === 0 ? one : two).recordFailure(i % 2 === 0 ? 'Shared@Example.com ' : 'shared@example.com')
    t.equal(await two.check('shared@example.com'), 0)
    t.equal(await one.recordFailure('SHARED@example.com'), 10_000)
    t.ok(await two.check('shared@example.com') > 0)
    const key = one.key('shared@example.com')
    t.match(key, /^gh:login-throttle:\{[A-Za-z0-9_-]{43}\}$/, 'one slot, no address in the key name')
    t.notOk(key.includes('shared'), 'the address is hashed')
  })

  t.test('a success resets; the key never outlives the window plus the wait', async t => {
    const th = new LoginThrottle(a, opts)
    for (let i = 0; i < 6; i++) await th.recordFailure('reset@example.com')
    const ttl = await a.pttl(th.key('reset@example.com'))
    t.ok(ttl > 0 && ttl <= (3600 + 20) * 1000, 'expires: no permanent lock')
    await th.reset('reset@example.com')
    t.equal(await th.check('reset@example.com'), 0)
    t.equal(await a.exists(th.key('reset@example.com')), 0)
  })

  t.test('guard counts wrong passwords only and resets on success', async t => {
    const th = new LoginThrottle(a, { ...opts, freeFailures: 2 })
    const wrong = async (): Promise<never> => { throw new AuthError('INVALID_CREDENTIALS') }
    const unverified = async (): Promise<never> => { throw new AuthError('EMAIL_NOT_VERIFIED') }
    await t.rejects(th.guard('g@example.com', unverified), { code: 'EMAIL_NOT_VERIFIED' })
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    t.equal(await th.guard('g@example.com', async () => 'ok'), 'ok')
    t.equal(await a.exists(th.key('g@example.com')), 0, 'reset by the success')
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    await t.rejects(th.guard('g@example.com', wrong), { code: 'INVALID_CREDENTIALS' })
    let ran = false
    await t.rejects(th.guard('g@example.com', async () => { ran = true }), { code: 'RATE_LIMITED' })
    t.notOk(ran, 'no password check while backing off')
  })

  t.test('the wait runs out: the lock is never permanent', async t => {
    const th = new LoginThrottle(a, { ...opts, freeFailures: 1, baseDelayMs: 2000, maxDelayMs: 2000 })
    t.equal(await th.recordFailure('short@example.com'), 2000)
    t.ok(await th.check('short@example.com') > 0)
    await new Promise(resolve => setTimeout(resolve, 2100))
    t.equal(await th.check('short@example.com'), 0)
  })
})
