import Fastify, { type FastifyServerOptions } from 'fastify'
import closeWithGrace from 'close-with-grace'
import { writeFile, rm } from 'node:fs/promises'
import type { ServerOptions } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import app, { serverOptions } from './app.js'
import { ConfigError, listeningOrigin, loadConfig, type Config } from './config.js'
import { redisConfigured } from './redis/client.js'
import { PROJECT_ROOT, RedisNotInstalledError, startRedis, type LocalRedis } from './redis/local-server.js'

export const LOCAL_REDIS_DIR = join(PROJECT_ROOT, 'var', 'redis')

/**
 * Node's and Fastify's defaults let a client hold a connection open for as long as it
 * likes (requestTimeout 0), which the Fastify documentation warns against when no proxy
 * sits in front. The values, each configurable:
 * - headers within HTTP_HEADERS_TIMEOUT_MS (10 s): a client that trickles its header
 *   lines (slowloris) is answered 408 and let go;
 * - the whole request within HTTP_REQUEST_TIMEOUT_MS (30 s): bodies are at most 16 KiB,
 *   so an honest client on a slow link needs far less; both are checked every second
 *   instead of Node's default 30 s, so the limits hold to the second;
 * - an idle kept-alive connection stays HTTP_KEEP_ALIVE_TIMEOUT_MS (72 s, Fastify's
 *   default): longer than the idle timeout of the proxies in front (nginx 60 s, most load
 *   balancers 60 s), so the proxy closes first and never sends a request on a connection
 *   the server is closing (a 502);
 * - a socket with no traffic either way for HTTP_CONNECTION_TIMEOUT_MS (75 s) is
 *   destroyed: above the keep-alive time, so it only catches what the others miss.
 */
function serverTimeouts (config: Config): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> & { http: ServerOptions } {
  return {
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: 1000 }
  }
}

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

  const server = Fastify({ ...serverOptions(config), ...serverTimeouts(config) })
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
