/*
 * The single entry of the test support: `build()` here, and everything in test/support/
 * re-exported, so a test imports from '../helper.js' and nowhere else for the basics.
 * test/support/mfa.ts, smtp-sink.ts and test/browser/harness.ts serve their own tests.
 */
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import type { LocalRedis } from '../src/redis/local-server.js'
import { startTestRedis, tempDir } from './support/processes.js'

export * from './support/http.js'
export * from './support/processes.js'
export * from './support/tools.js'
export * from './support/totp.js'
export * from './support/users.js'

/** The app, its config and its outbox: what every build gives. */
export interface AppContext {
  app: FastifyInstance
  config: Config
  outbox: string
}

/** A build on the suite's own single redis-server, with a client of its own to inspect it. */
export interface TestContext extends AppContext {
  redis: Redis
  server: LocalRedis
}

type Env = Record<string, string>
/** What build() needs of a test: scripts/ (timing runs) build the app outside tap too. */
type Owner = Pick<Test, 'teardown'>
/** Env naming a Cluster or Sentinel the test started itself (test/support/processes.ts). */
type TopologyEnv = Env & ({ REDIS_CLUSTER_NODES: string } | { REDIS_SENTINELS: string })

/**
 * Builds the app plugin as src/server.ts does, ready, closed at teardown. With no Redis in
 * `env` it starts the file's own redis-server (or uses `shared`); with REDIS_CLUSTER_NODES
 * or REDIS_SENTINELS it talks to that topology. `env` overrides the test defaults.
 */
export async function build (t: Owner, env: TopologyEnv): Promise<AppContext>
export async function build (t: Owner, env?: Env, shared?: LocalRedis): Promise<TestContext>
export async function build (t: Owner, env: Env = {}, shared?: LocalRedis): Promise<AppContext | TestContext> {
  return await buildWith(t, env, shared)
}

/** Every route the app registers, as Fastify hands it to onRoute (schemas included). */
export async function appRoutes (t: Owner): Promise<RouteOptions[]> {
  const routes: RouteOptions[] = []
  await buildWith(t, {}, undefined, route => { routes.push(route) })
  return routes
}

async function buildWith (t: Owner, env: Env, shared?: LocalRedis, onRoute?: (route: RouteOptions) => void): Promise<AppContext | TestContext> {
  const topology = env.REDIS_CLUSTER_NODES !== undefined || env.REDIS_SENTINELS !== undefined
  const server = topology ? undefined : shared ?? await startTestRedis(t)
  const outbox = await tempDir(t, 'outbox')
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...(server === undefined ? {} : { REDIS_URL: server.url }),
    MAIL_OUTBOX_DIR: outbox,
    LOGIN_RATE_LIMIT: '1000',
    // The per-account back-off is tested where it is the subject (brute-force tests).
    LOGIN_FREE_FAILURES: '100',
    EMAIL_TOKEN_RATE_LIMIT: '1000',
    EMAIL_ADDRESS_RATE_LIMIT: '1000',
    // The suite runs beside its own Redis, Chromium and server processes on a small machine:
    // a command delayed past the production default (1 s) by that load is not a Redis fault.
    // The stall tests set their own bound.
    REDIS_COMMAND_TIMEOUT_MS: '5000',
    ...env
  })
  const fastify = Fastify(serverOptions(config))
  if (onRoute !== undefined) fastify.addHook('onRoute', onRoute)
  // fp() lifts the app's decorators to the root, so tests can reach app.users and friends.
  await fastify.register(fp(app), { config })
  await fastify.ready()
  t.teardown(async () => await fastify.close())
  if (server === undefined) return { app: fastify, config, outbox }
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  return { app: fastify, redis, config, outbox, server }
}
