import fp from 'fastify-plugin'
import { WebhookWorker } from '../src/webhooks/worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: {
      /** what waits in the queues and what was parked, summed over the endpoints (from Redis) */
      depth: () => Promise<{ queued: number, parked: number }>
    }
  }
}

/**
 * Delivers security events to the WEBHOOKS endpoints: the events sink only queues them in
 * Redis (a receiver never slows the request behind the event), and this process joins the
 * others in delivering the queues. Closing stops the delivery loops before Redis closes.
 */
export default fp(async (app) => {
  const c = app.config
  const worker = new WebhookWorker({
    redis: app.redis,
    prefix: c.redisKeyPrefix,
    endpoints: c.webhooks,
    log: app.log.child({ module: 'webhooks' }),
    retry: { baseMs: c.webhookRetryBaseMs, windowMs: c.webhookRetryWindowMs },
    timeoutMs: c.webhookTimeoutMs,
    claimMs: c.webhookClaimMs,
    queueMax: c.webhookQueueMax,
    parkedMax: c.webhookParkedMax,
    allowPrivate: c.webhookAllowPrivate,
    observe: (outcome, lagMs) => app.metrics.countWebhook(outcome, lagMs)
  })
  app.decorate('webhooks', {
    depth: async () => {
      const all = await Promise.all(worker.queues.map(async q => await q.depth()))
      return all.reduce((sum, d) => ({ queued: sum.queued + d.queued, parked: sum.parked + d.parked }), { queued: 0, parked: 0 })
    }
  })
  if (c.webhooks.length === 0) return
  app.events.addSink(async event => await worker.enqueue(event))
  app.addHook('onReady', async () => worker.start())
  app.addHook('preClose', async () => await worker.stop())
}, { name: 'webhooks', dependencies: ['config', 'redis', 'events', 'metrics'] })
