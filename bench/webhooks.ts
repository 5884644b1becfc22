/*
 * Webhook delivery, measured: `npx tsx bench/webhooks.ts` (WEBHOOK_BENCH_EVENTS=N, default 2000).
 *
 * - what an emit costs the request that causes it: app.events.emit with no endpoint, and
 *   with one endpoint whose receiver hangs (it must not matter), p50/p99;
 * - delivery throughput and lag (event to arrival) to a local receiver answering 204, the
 *   events of 50 users emitted as fast as one process can.
 *
 * Everything runs on this machine: its own redis-server, receivers on 127.0.0.1.
 */
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startRedis } from '../src/redis/local-server.js'
import { startReceiver, webhooksEnv } from '../test/support/webhook-receiver.js'

const EVENTS = Number(process.env.WEBHOOK_BENCH_EVENTS ?? 2000)
const teardowns: Array<() => Promise<void> | void> = []
const owner = { teardown: (fn: () => Promise<void> | void) => { teardowns.push(fn) } }

const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-webhooks-'))
const redis = await startRedis({ dir })

async function start (env: Record<string, string>) {
  const config = loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32), DATA_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'), METRICS_TOKEN: 'm'.repeat(16), LOG_LEVEL: 'silent', REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true', ...env })
  const f = Fastify({ logger: false })
  await f.register(fp(app), { config })
  await f.ready()
  teardowns.push(async () => await f.close())
  return f
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`

async function emitCost (label: string, env: Record<string, string>): Promise<void> {
  const a = await start(env)
  const times: number[] = []
  for (let i = 0; i < EVENTS; i++) {
    const t0 = performance.now()
    await a.events.emit({ type: 'session.signed_in', userId: `u${i % 50}`, ip: '203.0.113.1', data: { method: 'password' } })
    times.push(performance.now() - t0)
  }
  console.log(`emit, ${label}: p50 ${fmt(pct(times, 0.5))}, p99 ${fmt(pct(times, 0.99))} (${EVENTS} emits)`)
  await a.close()
  await redisFlush()
}

async function redisFlush (): Promise<void> {
  const { Redis } = await import('ioredis')
  const r = new Redis(redis.url)
  await r.flushall()
  r.disconnect()
}

async function throughput (processes: number): Promise<void> {
  const receiver = await startReceiver(owner)
  const env = { WEBHOOKS: webhooksEnv([receiver]) }
  const apps = []
  for (let i = 0; i < processes; i++) apps.push(await start(env))
  const t0 = performance.now()
  for (let i = 0; i < EVENTS; i++) await apps[i % processes].events.emit({ type: 'session.signed_in', userId: `u${i % 50}`, data: { method: 'password' } })
  await receiver.until('all delivered', () => receiver.delivered().length >= EVENTS, 300_000)
  const seconds = (performance.now() - t0) / 1000
  const lags = receiver.delivered().map(r => r.receivedAt - Date.parse(r.payload!.timestamp))
  console.log(`delivery, ${processes} process${processes > 1 ? 'es' : ''}: ${EVENTS} events in ${seconds.toFixed(2)} s = ${(EVENTS / seconds).toFixed(0)}/s; ` +
    `lag (event to arrival) p50 ${pct(lags, 0.5)} ms, p99 ${pct(lags, 0.99)} ms; duplicates ${receiver.received.length - EVENTS}`)
  for (const a of apps) await a.close()
  await redisFlush()
}

try {
  await emitCost('no webhooks', {})
  const hanging = await startReceiver(owner)
  hanging.reply = () => 'hang'
  await emitCost('one endpoint that hangs', { WEBHOOKS: webhooksEnv([hanging]), WEBHOOK_TIMEOUT_MS: '30000', WEBHOOK_CLAIM_MS: '60000' })
  await throughput(1)
} finally {
  for (const fn of teardowns.reverse()) await fn()
  await redis.stop()
  await rm(dir, { recursive: true, force: true })
}
