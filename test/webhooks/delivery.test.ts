import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { build, sleep, until } from '../helper.js'
import { startReceiver, webhooksEnv } from '../support/webhook-receiver.js'
import { queueKeys } from '../../src/webhooks/queue.js'
import { parseEndpoints } from '../../src/webhooks/endpoints.js'
import type { FastifyInstance } from 'fastify'

/*
 * Webhook delivery against a receiver of the tests' own that verifies every request with
 * the standardwebhooks package. Events are emitted with app.events.emit, the one place
 * every action emits through.
 */

async function metric (app: FastifyInstance, name: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find(l => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? NaN : Number(line.split(' ').at(-1))
}

/** Waits for a metric to reach `value`: it is counted just after Redis records the outcome. */
async function untilMetric (app: FastifyInstance, name: string, value: number): Promise<void> {
  await until(`${name} to be ${value}`, async () => await metric(app, name) === value, 10_000)
}

function endpointId (url: string): string {
  return parseEndpoints(webhooksEnv([{ url, secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` }]), { allowPrivate: true })[0].id
}

t.test('an event reaches the receiver signed per Standard Webhooks, with the documented payload', async t => {
  const receiver = await startReceiver(t)
  const { app, redis } = await build(t, { WEBHOOKS: webhooksEnv([receiver]) })
  await app.events.emit({ type: 'session.signed_in', userId: 'u1', ip: '203.0.113.7', userAgent: 'Firefox/140', data: { method: 'password' } })
  await receiver.until('one delivery', r => r.length === 1)
  const [got] = receiver.received
  t.equal(got.error, undefined, 'the signature verifies')
  t.equal(got.status, 204)
  const payload = got.payload!
  t.equal(payload.type, 'session.signed_in')
  t.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'timestamp is ISO 8601')
  t.same(Object.keys(payload.data), ['id', 'userId', 'at', 'ip', 'userAgent', 'method'])
  t.match(payload.data, { userId: 'u1', ip: '203.0.113.7', userAgent: 'Firefox/140', method: 'password', at: payload.timestamp })
  t.equal(got.headers['webhook-id'], payload.data.id, 'webhook-id is the event id')
  t.equal(got.headers['content-type'], 'application/json')
  t.ok(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000) < 5, 'webhook-timestamp is the time of sending, in seconds')
  t.match(got.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/)

  const keys = queueKeys(app.config.redisKeyPrefix, app.config.webhooks[0].id)
  await until('the delivered entry to leave the queue', async () => await redis.xlen(keys.q) === 0)
  t.equal(await redis.exists(keys.user('u1')), 0, 'nothing names the user once delivered')
  t.equal(await redis.zcard(keys.due), 0)
  await untilMetric(app, 'gatehouse_webhook_deliveries_total{outcome="delivered"}', 1)
  await untilMetric(app, 'gatehouse_webhook_delivery_lag_seconds_count', 1)
  await untilMetric(app, 'gatehouse_webhook_queued', 0)
})

t.test('an endpoint gets only the event types it lists; ["*"] gets all', async t => {
  const some = await startReceiver(t)
  const all = await startReceiver(t)
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([{ ...some, events: ['user.signed_up', 'user.deleted'] }, all]) })
  await app.events.emit({ type: 'user.signed_up', userId: 'u1' })
  await app.events.emit({ type: 'session.signed_in', userId: 'u1', data: { method: 'passkey' } })
  await app.events.emit({ type: 'user.deleted', userId: 'u1' })
  await all.until('three', r => r.length === 3)
  await some.until('two', r => r.length === 2)
  await sleep(300)
  t.same(some.received.map(r => r.payload?.type), ['user.signed_up', 'user.deleted'])
  t.same(all.received.map(r => r.payload?.type), ['user.signed_up', 'session.signed_in', 'user.deleted'])
})

t.test('a 500 is retried with growing delays, each attempt with the same webhook-id and a valid signature', async t => {
  const receiver = await startReceiver(t)
  let calls = 0
  receiver.reply = () => ++calls <= 3 ? 500 : 200
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '100' })
  const times: number[] = []
  const original = receiver.reply
  receiver.reply = r => { times.push(Date.now()); return original(r) }
  await app.events.emit({ type: 'password.changed', userId: 'u2' })
  await receiver.until('the fourth attempt', r => r.length === 4)
  t.same(receiver.received.map(r => r.status), [500, 500, 500, 200])
  t.same(receiver.received.map(r => r.error), [undefined, undefined, undefined, undefined], 'every attempt verifies')
  t.equal(new Set(receiver.received.map(r => r.headers['webhook-id'])).size, 1, 'one webhook-id throughout')
  t.equal(new Set(receiver.received.map(r => r.body)).size, 1, 'the same body throughout')
  const gaps = times.slice(1).map((x, i) => x - times[i])
  // Each attempt is scheduled after the previous one was answered: the gaps cannot be shorter.
  t.ok(gaps[0] >= 100 && gaps[1] >= 200 && gaps[2] >= 400, `the delays double from the base: ${gaps.join(', ')} ms`)
  t.ok(gaps[2] < 5000, 'and a due retry is not left waiting for the next poll')
  await untilMetric(app, 'gatehouse_webhook_deliveries_total{outcome="failed"}', 3)
  await untilMetric(app, 'gatehouse_webhook_deliveries_total{outcome="delivered"}', 1)
})

t.test('a receiver that does not answer in time is cut off and retried', async t => {
  const receiver = await startReceiver(t)
  let calls = 0
  receiver.reply = () => ++calls === 1 ? 'hang' : 204
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_CLAIM_MS: '20000' })
  const started = Date.now()
  await app.events.emit({ type: 'mfa.disabled', userId: 'u3' })
  await receiver.until('the second attempt', r => r.length === 2)
  t.ok(Date.now() - started < 10_000, 'retried after the timeout, not after the claim time (20 s)')
  t.same(receiver.received.map(r => r.status), [-1, 204])
  await untilMetric(app, 'gatehouse_webhook_deliveries_total{outcome="timeout"}', 1)
})

t.test('emitting never waits on the receiver', async t => {
  const receiver = await startReceiver(t)
  receiver.reply = () => 'hang'
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_TIMEOUT_MS: '10000', WEBHOOK_CLAIM_MS: '20000' })
  await app.events.emit({ type: 'session.signed_in', userId: 'u4', data: { method: 'password' } })
  await receiver.until('the hanging request', r => r.length === 1)
  const started = performance.now()
  for (let i = 0; i < 20; i++) await app.events.emit({ type: 'session.signed_out', userId: `u4-${i}` })
  t.ok(performance.now() - started < 5000, 'twenty emits return long before the hanging attempt times out (10 s)')
})

t.test('one user\'s hanging delivery holds up that user only', async t => {
  const receiver = await startReceiver(t)
  receiver.reply = r => r.payload!.data.userId === 'slow' ? 'hang' : 204
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_TIMEOUT_MS: '15000', WEBHOOK_CLAIM_MS: '30000' })
  await app.events.emit({ type: 'session.signed_in', userId: 'slow', data: { method: 'password' } })
  await receiver.until('the hanging attempt', r => r.length === 1)
  const started = Date.now()
  for (const userId of ['x', 'y', 'z']) await app.events.emit({ type: 'session.signed_in', userId, data: { method: 'password' } })
  await app.events.emit({ type: 'session.signed_out', userId: 'slow' })
  await receiver.until('the other users\' events', () => receiver.delivered().length === 3, 10_000)
  t.ok(Date.now() - started < 7500, 'delivered while the slow call still hangs (15 s timeout)')
  t.equal(receiver.received.filter(r => r.payload!.data.userId === 'slow').length, 1, 'the slow user\'s next event waits its turn')
})

t.test('each user\'s events arrive in order, even with failures and several users at once', async t => {
  const receiver = await startReceiver(t)
  // Every event fails once, some twice: a later event must never overtake an earlier one.
  const seen = new Map<string, number>()
  receiver.reply = r => {
    const id = r.payload!.data.id
    const n = (seen.get(id) ?? 0) + 1
    seen.set(id, n)
    return n === 1 || (n === 2 && Number(r.payload!.data.failures) % 3 === 0) ? 503 : 200
  }
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '20' })
  const users = ['a', 'b', 'c', 'd']
  const PER_USER = 8
  await Promise.all(users.map(async userId => {
    for (let seq = 0; seq < PER_USER; seq++) await app.events.emit({ type: 'session.sign_in_failed', userId, data: { method: 'password', failures: seq } })
  }))
  await receiver.until('every event delivered', () => receiver.delivered().length === users.length * PER_USER, 30_000)
  for (const userId of users) {
    const attempts = receiver.received.filter(r => r.payload?.data.userId === userId).map(r => ({ seq: Number(r.payload!.data.failures), ok: r.status === 200 }))
    t.same(attempts.filter(a => a.ok).map(a => a.seq), [...Array(PER_USER).keys()], `${userId}: delivered in order`)
    // No attempt of event n before event n-1 was delivered.
    let delivered = -1
    const early = attempts.filter(a => { const bad = a.seq > delivered + 1; if (a.ok) delivered = a.seq; return bad })
    t.same(early, [], `${userId}: nothing attempted ahead of its turn`)
  }
})

t.test('a replayed request is refused by the receiver once its timestamp is old', async t => {
  const receiver = await startReceiver(t)
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]) })
  await app.events.emit({ type: 'user.email_changed', userId: 'u5' })
  await receiver.until('a delivery', r => r.length === 1)
  const { headers, body } = receiver.received[0]
  const verifier = new Webhook(receiver.secret)
  t.ok(verifier.verify(body, headers), 'fresh: accepted')
  t.throws(() => verifier.verify(body.replace('u5', 'u6'), headers), /No matching signature/, 'a changed body is refused')
  t.throws(() => verifier.verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) }), /No matching signature/, 'the timestamp is signed')
  const now = Date.now
  Date.now = () => now() + 6 * 60_000
  try {
    t.throws(() => verifier.verify(body, headers), /timestamp too old/, 'the same request six minutes later is refused')
  } finally {
    Date.now = now
  }
})

t.test('a delivery failing past the retry window is parked, counted, and frees the user\'s next event', async t => {
  const receiver = await startReceiver(t)
  receiver.reply = () => 500
  const { app, redis } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_RETRY_WINDOW_MS: '1000' })
  await app.events.emit({ type: 'user.disabled', userId: 'u7' })
  const id = app.config.webhooks[0].id
  const keys = queueKeys(app.config.redisKeyPrefix, id)
  await until('the delivery to be parked', async () => await redis.xlen(keys.parked) === 1, 10_000)
  const attempts = receiver.received.length
  t.ok(attempts >= 3, `attempted ${attempts} times within the window`)
  const last = receiver.received.at(-1)!
  t.ok(Date.parse(last.payload!.timestamp) + 1000 <= Date.now(), 'the last attempt came at the end of the window')
  await untilMetric(app, 'gatehouse_webhook_parked', 1)
  await untilMetric(app, 'gatehouse_webhook_deliveries_total{outcome="parked"}', 1)
  t.equal(await redis.xlen(keys.q), 0, 'the plain payload is gone from the queue')
  const [[, fields]] = await redis.xrange(keys.parked, '-', '+')
  t.same(fields.filter((_, i) => i % 2 === 0), ['e', 't', 'n', 'o'], 'the parked record holds the event id, type, attempts and outcome')
  t.notOk(fields.join(' ').includes('u7'), 'and not the user')
  receiver.reply = () => 204
  await app.events.emit({ type: 'user.enabled', userId: 'u7' })
  await receiver.until('the next event', () => receiver.delivered().length === 1)
  t.equal(receiver.delivered()[0].payload!.type, 'user.enabled')
  t.equal(receiver.received.length, attempts + 1, 'the parked one is not tried again')
})

t.test('the queue and the parked stream keep to their caps', async t => {
  const receiver = await startReceiver(t)
  receiver.reply = () => 500
  const { app, redis } = await build(t, {
    WEBHOOKS: webhooksEnv([receiver]),
    WEBHOOK_QUEUE_MAX: '10',
    WEBHOOK_PARKED_MAX: '10',
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_RETRY_WINDOW_MS: '2000'
  })
  const keys = queueKeys(app.config.redisKeyPrefix, app.config.webhooks[0].id)
  for (let i = 0; i < 30; i++) {
    await app.events.emit({ type: 'session.sign_in_failed', userId: 'same-user', data: { method: 'password' } })
    t.ok(await redis.xlen(keys.q) <= 10, 'at most 10 queued')
  }
  for (let i = 0; i < 8; i++) {
    await app.events.emit({ type: 'session.sign_in_failed', userId: `user-${i}`, data: { method: 'password' } })
    t.ok(await redis.xlen(keys.q) <= 10, 'at most 10 queued')
  }
  await until('the queue to drain by parking', async () => await redis.xlen(keys.q) === 0, 60_000)
  const parked = await metric(app, 'gatehouse_webhook_deliveries_total{outcome="parked"}')
  const dropped = await metric(app, 'gatehouse_webhook_deliveries_total{outcome="dropped"}')
  t.equal(parked + dropped, 38, `each of the 38 deliveries was parked (${parked}) or dropped by the cap (${dropped})`)
  t.ok(dropped > 0 && parked >= 10, 'the cap dropped the oldest; the last ten were parked')
  for (let i = 0; i < 3; i++) await app.events.emit({ type: 'session.sign_in_failed', userId: `late-${i}`, data: { method: 'password' } })
  await until('three more parked', async () => await metric(app, 'gatehouse_webhook_deliveries_total{outcome="parked"}') === parked + 3, 30_000)
  t.equal(await redis.xlen(keys.parked), 10, `of ${parked + 3} parked, the parked stream keeps the last 10`)
  await untilMetric(app, 'gatehouse_webhook_parked', 10)
  t.equal(await redis.exists(keys.user('same-user')), 0, 'no user list left behind')
  t.equal(await redis.hlen(keys.wait), 0)
  t.equal(await redis.hlen(keys.tries), 0)
})

t.test('endpoint ids follow the URL', async t => {
  t.equal(endpointId('http://127.0.0.1:1/a'), endpointId('http://127.0.0.1:1/a'))
  t.not(endpointId('http://127.0.0.1:1/a'), endpointId('http://127.0.0.1:1/b'))
})
