import fp from 'fastify-plugin'
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'
import { AuthError } from '../src/http/errors.js'
import { isRedisUnavailable } from '../src/redis/client.js'
import { safeEqual } from '../src/crypto/secrets.js'
import { problem, sendProblem } from '../src/http/problem.js'
import { EVENT_TYPES } from '../src/events/catalogue.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      /** Own registry (never prom-client's global one), so two apps in one process do not clash. */
      registry: Registry
      /** Counts one login attempt; `outcome` is a small closed set (see loginOutcome). */
      countLogin: (outcome: string) => void
      /** Counts one webhook delivery outcome (src/webhooks/worker.ts); the lag with `delivered`. */
      countWebhook: (outcome: string, lagMs?: number) => void
    }
  }
}

/**
 * The outcome label of a failed login: the problem code in lower case (a closed set),
 * `unavailable` when Redis could not be reached, `error` otherwise. Never anything the
 * client sent.
 */
export function loginOutcome (err: unknown): string {
  if (err instanceof AuthError) return err.code.toLowerCase()
  if (isRedisUnavailable(err)) return 'unavailable'
  return 'error'
}

/**
 * GET /metrics in Prometheus text format. Labels are the route template
 * (`routeOptions.url`, never the raw URL), the method and the status code, so no user
 * data (ids, emails, tokens, query strings) can reach a label. With METRICS_TOKEN set, the
 * endpoint wants `Authorization: Bearer <METRICS_TOKEN>`.
 */
export default fp(async (app) => {
  const registry = new Registry()
  // Process and runtime metrics, including the event-loop lag (monitorEventLoopDelay).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 })

  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry]
  })
  const duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time from receiving a request to sending the answer, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Login attempts by outcome (success, invalid_credentials, email_not_verified, account_disabled, unavailable, ...)',
    labelNames: ['outcome'] as const,
    registers: [registry]
  })
  const redisErrors = new Counter({
    name: 'gatehouse_redis_errors_total',
    help: 'Redis failures: connection (a reconnect attempt after a lost or failed connection), command (a request failed on Redis), not_ready (a request refused at once because Redis was disconnected)',
    labelNames: ['kind'] as const,
    registers: [registry]
  })
  for (const kind of ['connection', 'command', 'not_ready']) redisErrors.inc({ kind }, 0)
  const events = new Counter({
    name: 'gatehouse_events_total',
    help: 'Security events emitted, by type (the event catalogue: a closed set)',
    labelNames: ['type'] as const,
    registers: [registry]
  })
  for (const type of EVENT_TYPES) events.inc({ type }, 0)
  app.events.addSink(async (event) => { events.inc({ type: event.type }) })

  const redis = app.redis
  // eslint-disable-next-line no-new -- registered in the registry; read on scrape
  new Gauge({
    name: 'gatehouse_redis_up',
    help: '1 while the Redis connection is ready, else 0',
    registers: [registry],
    collect () { this.set(redis.status === 'ready' ? 1 : 0) }
  })
  // eslint-disable-next-line no-new -- registered in the registry; read on scrape
  new Gauge({
    name: 'gatehouse_active_sessions',
    help: 'Sessions not yet expired (from the live-session count by expiry minute; -1 when Redis cannot be asked)',
    registers: [registry],
    async collect () {
      if (!app.hasDecorator('sessionStore') || redis.status !== 'ready') {
        this.set(-1)
        return
      }
      try {
        this.set(await app.sessionStore.countActive())
      } catch {
        this.set(-1)
      }
    }
  })

  const webhookDeliveries = new Counter({
    name: 'gatehouse_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, failed, timeout, refused), and deliveries given up (parked after the retry window, dropped by the queue cap)',
    labelNames: ['outcome'] as const,
    registers: [registry]
  })
  for (const outcome of ['delivered', 'failed', 'timeout', 'refused', 'parked', 'dropped']) webhookDeliveries.inc({ outcome }, 0)
  const webhookLag = new Histogram({
    name: 'gatehouse_webhook_delivery_lag_seconds',
    help: 'Time from a security event to its webhook delivery (a 2xx from the receiver), retries included',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    registers: [registry]
  })
  // Read from Redis, so every process reports the same totals for all of them.
  const webhookDepth = async (which: 'queued' | 'parked'): Promise<number> => {
    if (!app.hasDecorator('webhooks') || redis.status !== 'ready') return -1
    try {
      return (await app.webhooks.depth())[which]
    } catch {
      return -1
    }
  }
  // eslint-disable-next-line no-new -- registered in the registry; read on scrape
  new Gauge({
    name: 'gatehouse_webhook_parked',
    help: 'Webhook deliveries parked after their retry window, all endpoints (the capped parked streams; -1 when Redis cannot be asked)',
    registers: [registry],
    async collect () { this.set(await webhookDepth('parked')) }
  })
  // eslint-disable-next-line no-new -- registered in the registry; read on scrape
  new Gauge({
    name: 'gatehouse_webhook_queued',
    help: 'Webhook deliveries queued and not yet delivered or parked, all endpoints (-1 when Redis cannot be asked)',
    registers: [registry],
    async collect () { this.set(await webhookDepth('queued')) }
  })

  // One count per reconnect attempt: a connection lost (kill -9 closes it without an
  // 'error' event) or an attempt that failed (ECONNREFUSED).
  redis.on('reconnecting', () => redisErrors.inc({ kind: 'connection' }))

  app.decorate('metrics', {
    registry,
    countLogin: (outcome: string) => logins.inc({ outcome }),
    countWebhook: (outcome: string, lagMs?: number) => {
      webhookDeliveries.inc({ outcome })
      if (lagMs !== undefined) webhookLag.observe(Math.max(0, lagMs) / 1000)
    }
  })

  app.addHook('onError', async (_request, _reply, err) => {
    if (err instanceof AuthError && err.code === 'SERVICE_UNAVAILABLE') redisErrors.inc({ kind: 'not_ready' })
    else if (isRedisUnavailable(err)) redisErrors.inc({ kind: 'command' })
  })

  // prom-client hashes a label object on every inc/observe; the children bound to one
  // (method, route, status) are made once and kept, so an answer costs two lookups. The
  // routes, methods and statuses are the server's own: a small closed set.
  const children = new Map<string, { count: ReturnType<typeof requests.labels>, time: ReturnType<typeof duration.labels> }>()
  app.addHook('onResponse', function countResponse (request, reply, done) {
    const route = request.routeOptions.url ?? 'unmatched'
    const id = `${request.method} ${reply.statusCode} ${route}`
    let child = children.get(id)
    if (child === undefined) {
      const labels = { method: request.method, route, status_code: String(reply.statusCode) }
      child = { count: requests.labels(labels), time: duration.labels(labels) }
      children.set(id, child)
    }
    child.count.inc()
    child.time.observe(reply.elapsedTime / 1000)
    done()
  })

  // Production cannot start without METRICS_TOKEN (src/config.ts); elsewhere it is open.
  const token = app.config.metricsToken

  // No response schema: the body is Prometheus text, not JSON.
  app.get('/metrics', async (request, reply) => {
    if (token !== undefined) {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''
      if (!safeEqual(given, token)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"')
        return await sendProblem(reply, problem('UNAUTHENTICATED', 'GET /metrics wants the metrics bearer token.'))
      }
    }
    const body = await registry.metrics()
    return await reply.type(registry.contentType).send(body)
  })
}, { name: 'metrics', dependencies: ['config', 'redis', 'events'] })
