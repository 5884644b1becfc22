import Fastify, { type FastifyInstance } from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import app, { serverOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startTestRedis, type TestContext } from './helper.js'

type Tap = Parameters<typeof startTestRedis>[0]

/**
 * Like helper.build(), with the same defaults, and also hands out the instance the app
 * plugin decorates (`app.mailer`, `app.users`, ...), which the root instance cannot see
 * because the app plugin is encapsulated.
 */
export async function buildWithInstance (t: Tap, env: Record<string, string> = {}): Promise<TestContext & { instance: FastifyInstance }> {
  const server = await startTestRedis(t)
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: server.url,
    MAIL_OUTBOX_DIR: outbox,
    LOGIN_RATE_LIMIT: '1000',
    EMAIL_TOKEN_RATE_LIMIT: '1000',
    EMAIL_ADDRESS_RATE_LIMIT: '1000',
    ...env
  })
  const fastify = Fastify(serverOptions(config))
  let instance: FastifyInstance | undefined
  await fastify.register(async (inner, opts: { config: typeof config }) => {
    instance = inner
    await app(inner, opts)
  }, { config })
  await fastify.ready()
  const redis = new Redis(server.url)
  t.teardown(async () => {
    await fastify.close()
    redis.disconnect()
    await rm(outbox, { recursive: true, force: true })
  })
  return { app: fastify, redis, config, outbox, server, instance: instance as FastifyInstance }
}
