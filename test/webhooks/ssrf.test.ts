import t from 'tap'
import { build, sleep, until } from '../helper.js'
import { startReceiver, webhooksEnv } from '../support/webhook-receiver.js'

/*
 * Server-side request forgery: in production a webhook whose host name resolves to a
 * loopback address is refused on the connection itself, not only by a look at the URL at
 * start (a DNS answer can change afterwards). `localhost` stands for such a name here.
 */

const PRODUCTION = { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32), DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), METRICS_TOKEN: 'm'.repeat(16) }

async function outcomes (app: Awaited<ReturnType<typeof build>>['app']): Promise<Record<string, number>> {
  const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${PRODUCTION.METRICS_TOKEN}` } })).body
  return Object.fromEntries([...text.matchAll(/^gatehouse_webhook_deliveries_total\{outcome="(\w+)"\} (\d+)$/gm)].map(m => [m[1], Number(m[2])]))
}

t.test('in production, a name that resolves to loopback is refused at delivery and the receiver gets nothing', async t => {
  const receiver = await startReceiver(t)
  const url = receiver.url.replace('127.0.0.1', 'localhost')
  const { app } = await build(t, { ...PRODUCTION, WEBHOOKS: webhooksEnv([{ ...receiver, url }]), WEBHOOK_RETRY_BASE_MS: '100' })
  await app.events.emit({ type: 'user.signed_up', userId: 'u1' })
  await sleep(1000)
  t.equal(receiver.received.length, 0, 'no request reached the loopback receiver')
  const counts = await outcomes(app)
  t.ok(counts.refused >= 2, `refused, and retried (${counts.refused} attempts)`)
  t.equal(counts.delivered, 0)
})

t.test('WEBHOOK_ALLOW_PRIVATE lets production deliver to a private receiver', async t => {
  const receiver = await startReceiver(t)
  const url = receiver.url.replace('127.0.0.1', 'localhost')
  const { app } = await build(t, { ...PRODUCTION, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOKS: webhooksEnv([{ ...receiver, url }]) })
  await app.events.emit({ type: 'user.signed_up', userId: 'u1' })
  await receiver.until('the delivery', r => r.length === 1)
  t.equal(receiver.delivered().length, 1)
  t.equal((await outcomes(app)).refused, 0)
})

t.test('outside production the same receiver is allowed', async t => {
  const receiver = await startReceiver(t)
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([{ ...receiver, url: receiver.url.replace('127.0.0.1', 'localhost') }]) })
  await app.events.emit({ type: 'user.signed_up', userId: 'u1' })
  await receiver.until('the delivery', r => r.length === 1)
  t.equal(receiver.delivered().length, 1)
})

t.test('a redirect is not followed: it is a failed attempt', async t => {
  const receiver = await startReceiver(t)
  receiver.reply = () => 307
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '60000' })
  await app.events.emit({ type: 'user.signed_up', userId: 'u1' })
  await receiver.until('the attempt', r => r.length === 1)
  await until('the failure to be counted', async () => (await outcomes(app)).failed === 1)
  await sleep(300)
  t.equal(receiver.received.length, 1, 'not followed, and not retried before the back-off')
})
