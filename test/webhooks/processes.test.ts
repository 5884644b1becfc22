import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import { redisAt, startServer, tempDir, until, type ServerProcess } from '../helper.js'
import { startReceiver, webhooksEnv, type WebhookReceiver } from '../support/webhook-receiver.js'
import { parseEndpoints } from '../../src/webhooks/endpoints.js'
import { WebhookWorker } from '../../src/webhooks/worker.js'
import { GROUP, queueKeys } from '../../src/webhooks/queue.js'
import type { EventType } from '../../src/events/catalogue.js'

/*
 * Real server processes sharing one Redis: the one delivering is killed with kill -9 in
 * the middle of an attempt, another takes over, and no event is lost or reordered.
 * Events are queued through the same worker code the servers' event sink runs.
 */

const USERS = ['ann', 'bob', 'cid', 'dee', 'eve']
const PER_USER = 4

function firstDeliveries (receiver: WebhookReceiver, userId: string): number[] {
  const out: number[] = []
  for (const r of receiver.delivered()) {
    if (r.payload?.data.userId !== userId) continue
    const seq = Number(r.payload.data.seq)
    if (!out.includes(seq)) out.push(seq)
  }
  return out
}

t.test('kill -9 mid-delivery: another process takes the attempt over; nothing lost, each user in order', async t => {
  const receiver = await startReceiver(t)
  // The very first request is held open: its process is killed while waiting for the answer.
  let first = true
  receiver.reply = () => { if (first) { first = false; return 'hang' } return 204 }
  const redisServer = await redisAt(t, await tempDir(t, 'redis'))
  const env = {
    REDIS_URL: redisServer.url,
    MAIL_OUTBOX_DIR: await tempDir(t, 'outbox'),
    WEBHOOKS: webhooksEnv([receiver]),
    WEBHOOK_TIMEOUT_MS: '1500',
    WEBHOOK_CLAIM_MS: '2000',
    WEBHOOK_RETRY_BASE_MS: '100'
  }
  const a: ServerProcess = await startServer(t, env)

  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  const endpoints = parseEndpoints(env.WEBHOOKS, { allowPrivate: true })
  const keys = queueKeys('gh:', endpoints[0].id)
  await until('the server to join the consumer group', async () => (await redis.xinfo('GROUPS', keys.q) as unknown[]).length === 1)
  const producer = new WebhookWorker({
    redis,
    prefix: 'gh:',
    endpoints,
    log: Fastify().log,
    retry: { baseMs: 100, windowMs: 86_400_000 },
    timeoutMs: 1500,
    claimMs: 2000,
    queueMax: 1000,
    parkedMax: 100,
    allowPrivate: true,
    observe: () => {}
  })
  const ids: string[] = []
  for (let seq = 0; seq < PER_USER; seq++) {
    for (const userId of USERS) {
      const id = randomUUID()
      ids.push(id)
      await producer.enqueue({ id, type: 'session.signed_in' as EventType, userId, at: Date.now(), data: { method: 'password', seq } })
    }
  }

  await receiver.until('the request that hangs', r => r.some(x => x.status === -1))
  const held = receiver.received.find(x => x.status === -1)!
  const pending = await redis.xpending(keys.q, GROUP) as [number, string, string, Array<[string, string]>]
  t.ok(pending[0] >= 1, 'the held delivery is pending in the group')
  a.child.kill('SIGKILL')
  t.equal((await a.exited).signal, 'SIGKILL')

  const b = await startServer(t, env)
  await receiver.until('every event delivered', () => new Set(receiver.delivered().map(r => r.payload!.data.id)).size === ids.length, 30_000)
  t.same(new Set(receiver.delivered().map(r => r.payload!.data.id)), new Set(ids), 'every event delivered, none lost')
  t.ok(receiver.delivered().some(r => r.headers['webhook-id'] === held.headers['webhook-id']), 'the held one too, with the same webhook-id')
  for (const userId of USERS) t.same(firstDeliveries(receiver, userId), [...Array(PER_USER).keys()], `${userId}: in order`)
  await until('the queue to empty', async () => await redis.xlen(keys.q) === 0)
  t.equal((await redis.xpending(keys.q, GROUP) as [number])[0], 0, 'nothing left pending')
  b.child.kill('SIGTERM')
  t.equal((await b.exited).code, 0, 'the survivor shuts down cleanly')
})
