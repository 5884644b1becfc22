import t from 'tap'
import { build, startCluster } from '../helper.js'
import { startReceiver, webhooksEnv } from '../support/webhook-receiver.js'
import { queueKeys } from '../../src/webhooks/queue.js'

/* Closing stops the delivery loops cleanly, and hands back what was under way. */

t.test('closing the app hands a hanging attempt back at once: another process delivers it without waiting for the claim time', async t => {
  const receiver = await startReceiver(t)
  let first = true
  receiver.reply = () => { if (first) { first = false; return 'hang' } return 204 }
  const env = { WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_CLAIM_MS: '60000' }
  const one = await build(t, env)
  await one.app.events.emit({ type: 'user.deleted', userId: 'u1' })
  await receiver.until('the hanging attempt', r => r.length === 1)

  const started = Date.now()
  await one.app.close()
  const took = Date.now() - started
  t.ok(took < 5000, `close took ${took} ms (a short grace, not the 20 s timeout)`)
  const keys = queueKeys(one.config.redisKeyPrefix, one.config.webhooks[0].id)
  t.equal(await one.redis.zcard(keys.due), 1, 'the attempt is due again')

  const closedAt = Date.now()
  await build(t, env, one.server)
  await receiver.until('the delivery by the other process', () => receiver.delivered().length === 1, 10_000)
  t.ok(Date.now() - closedAt < 5000, 'delivered long before the claim time (60 s)')
  t.equal(receiver.delivered()[0].headers['webhook-id'], receiver.received[0].headers['webhook-id'], 'the same webhook-id')
})

t.test('closing with nothing to deliver is immediate', async t => {
  const receiver = await startReceiver(t)
  const { app } = await build(t, { WEBHOOKS: webhooksEnv([receiver]) })
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 1500, 'the idle loops stop at once')
})

t.test('delivery works on a Redis Cluster (each queue\'s keys in one slot)', async t => {
  const cluster = await startCluster(t)
  const receiver = await startReceiver(t)
  const { app } = await build(t, { REDIS_CLUSTER_NODES: cluster.spec, WEBHOOKS: webhooksEnv([receiver]), WEBHOOK_RETRY_BASE_MS: '50' })
  let calls = 0
  receiver.reply = () => ++calls === 1 ? 500 : 204
  for (const userId of ['a', 'b', 'c']) {
    for (let seq = 0; seq < 3; seq++) await app.events.emit({ type: 'session.sign_in_failed', userId, data: { method: 'password', failures: seq } })
  }
  await receiver.until('nine deliveries', () => receiver.delivered().length === 9, 20_000)
  for (const userId of ['a', 'b', 'c']) {
    t.same(receiver.delivered().filter(r => r.payload!.data.userId === userId).map(r => r.payload!.data.failures), [0, 1, 2], `${userId} in order`)
  }
})
