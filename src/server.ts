import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import { writeFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import app, { serverOptions } from './app.js'
import { ConfigError, listeningOrigin, loadConfig, type Config } from './config.js'
import { redisConfigured } from './redis/client.js'
import { LOCAL_REDIS_DIR, RedisNotInstalledError, startRedis, type LocalRedis } from './redis/local-server.js'

async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }

  // With no Redis configured (single, Sentinel or Cluster), run one of our own on the project's config.
  let local: LocalRedis | undefined
  if (!redisConfigured(config)) {
    try {
      local = await startRedis({ dir: LOCAL_REDIS_DIR })
    } catch (err) {
      process.stderr.write(`${err instanceof RedisNotInstalledError ? err.message : `could not start redis-server: ${(err as Error).message}`}\n`)
      process.exit(1)
    }
    await writeFile(join(LOCAL_REDIS_DIR, 'url'), local.url)
    config = { ...config, redisUrl: local.url }
  }

  const server = Fastify(serverOptions(config))
  // Once closing, every answer says `Connection: close`: a keep-alive connection whose
  // request was in flight would otherwise stay open after its answer and hold close() up
  // until the keep-alive timeout, long past close-with-grace's delay (exit 1).
  let closing = false
  server.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  await server.register(app, { config })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    closing = true
    if (err !== undefined) server.log.error({ err }, 'closing after an error')
    else server.log.info({ signal }, 'closing')
    // Stops accepting, lets requests in flight finish (a login mid-hash completes), then
    // closes Redis through the plugins' onClose hooks.
    await server.close()
    if (local !== undefined) {
      await local.stop()
      await rm(join(LOCAL_REDIS_DIR, 'url'), { force: true })
    }
  })

  if (local !== undefined) server.log.info({ redis: local.url, dir: local.dir }, 'started redis-server with redis.conf')
  await server.listen({ port: config.port, host: config.host })
  // The URL that works in a browser; PORT=0 learns its port only now.
  const url = config.port === 0 ? listeningOrigin(config.host, (server.server.address() as AddressInfo).port) : config.publicUrl
  server.log.info({ url }, `Gatehouse is ready: open ${url}`)
  if (config.warnDefaultOrigin) server.log.warn(`neither PUBLIC_URL nor APP_ORIGIN is set: emailed links point at ${config.appOrigin}`)
}

await main()
