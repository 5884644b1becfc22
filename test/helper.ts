import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { startRedis, type LocalRedis } from '../src/redis/local-server.js'
import { newestToken, readOutbox } from '../src/mail/outbox.js'

type Tap = { teardown: (fn: () => unknown) => void }

export const PASSWORD = 'correct horse battery staple'

/**
 * One redis-server per test file (tap runs files as separate processes), from the
 * project's redis.conf, on a free port in a temporary directory; stopped at teardown.
 */
export async function startTestRedis (t: Tap): Promise<LocalRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'))
  const redis = await startRedis({ dir })
  t.teardown(async () => {
    await redis.stop()
    await rm(dir, { recursive: true, force: true })
  })
  return redis
}

export interface TestContext {
  app: FastifyInstance
  redis: Redis
  config: Config
  outbox: string
  server: LocalRedis
}

/** Builds the app plugin against the suite's own Redis; env overrides config. */
export async function build (t: Tap, env: Record<string, string> = {}, shared?: LocalRedis): Promise<TestContext> {
  const server = shared ?? await startTestRedis(t)
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: server.url,
    MAIL_OUTBOX_DIR: outbox,
    LOGIN_RATE_LIMIT: '1000',
    // The per-account back-off is tested where it is the subject (brute-force tests).
    LOGIN_FREE_FAILURES: '100',
    EMAIL_TOKEN_RATE_LIMIT: '1000',
    EMAIL_ADDRESS_RATE_LIMIT: '1000',
    ...env
  })
  const fastify = await buildApp(t, config)
  const redis = new Redis(server.url)
  t.teardown(async () => {
    redis.disconnect()
    await rm(outbox, { recursive: true, force: true })
  })
  return { app: fastify, redis, config, outbox, server }
}

/** The app on `config`, ready, closed at teardown, with its decorators on the root instance. */
export async function buildApp (t: Tap, config: Config): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(config))
  // fp() lifts the app's decorators to the root, so tests can reach app.users and friends.
  await fastify.register(fp(app), { config })
  await fastify.ready()
  t.teardown(async () => await fastify.close())
  return fastify
}

export interface ParsedMail { file: string, to: string, subject: string, text: string, raw: string }

/** Messages in the outbox, oldest first, optionally only those to `to`. */
export async function outboxMessages (outbox: string, to?: string): Promise<ParsedMail[]> {
  const out: ParsedMail[] = []
  for (const m of await readOutbox(outbox)) {
    if (to === undefined || m.to.includes(to)) out.push({ file: m.file, to: m.to, subject: m.subject, text: m.raw, raw: m.raw })
  }
  return out
}

/**
 * The token of the last link of `kind` mailed to `to`. Some mail goes out after the HTTP
 * answer (so its timing cannot reveal an account), hence a short wait for it.
 */
export async function tokenFromOutbox (outbox: string, to: string, kind: 'verify-email' | 'reset-password', waitMs = 5000): Promise<string> {
  const until = Date.now() + waitMs
  for (;;) {
    const token = newestToken(await readOutbox(outbox), kind, to)
    if (token !== undefined) return token
    if (Date.now() > until) throw new Error(`no ${kind} link mailed to ${to}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export function cookieOf (res: LightMyRequestResponse, name = 'sessionId'): string | undefined {
  const c = res.cookies.find(x => x.name === name)
  return c === undefined ? undefined : `${name}=${c.value}`
}

let counter = 0
export function uniqueEmail (label = 'user'): string {
  counter += 1
  return `${label}.${process.pid}.${counter}@example.com`
}

export async function registerUser (ctx: TestContext, email = uniqueEmail(), password = PASSWORD, extra: Record<string, string> = {}): Promise<{ email: string, password: string }> {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password, ...extra } })
  if (res.statusCode !== 202) throw new Error(`register answered ${res.statusCode}: ${res.body}`)
  return { email, password }
}

export async function verifyUser (ctx: TestContext, email: string): Promise<void> {
  const token = await tokenFromOutbox(ctx.outbox, email, 'verify-email')
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
  if (res.statusCode !== 200) throw new Error(`verify answered ${res.statusCode}: ${res.body}`)
}

/** Registers, verifies and logs in; returns the session cookie. */
export async function signedInUser (ctx: TestContext, email = uniqueEmail()): Promise<{ email: string, password: string, cookie: string, login: LightMyRequestResponse }> {
  await registerUser(ctx, email)
  await verifyUser(ctx, email)
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
  if (login.statusCode !== 200) throw new Error(`login answered ${login.statusCode}: ${login.body}`)
  return { email, password: PASSWORD, cookie: cookieOf(login) as string, login }
}
