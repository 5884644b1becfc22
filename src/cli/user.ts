/*
 * Account administration without the HTTP API:
 *   npm run user -- add <email> [--password <pw>] [--username <name>] [--admin] [--unverified]
 *   npm run user -- disable <email>     (ends every session and token family of the account)
 *   npm run user -- enable <email>
 *   npm run user -- role <email> <admin|user>   (the first admin is made this way)
 *   npm run user -- list
 * Runs on the server's own wiring (the app plugin of src/app.ts, built but never listening),
 * so it reaches Redis exactly as the server does: REDIS_URL, REDIS_SENTINELS or
 * REDIS_CLUSTER_NODES. With none of them, the Redis that `npm start` runs (var/redis/url),
 * or, when that is not running, a redis-server started on var/redis just for this command.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { readFile } from 'node:fs/promises'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import app, { serverOptions } from '../app.js'
import { loadConfig, ConfigError, type Config } from '../config.js'
import { createRedis, redisConfigured } from '../redis/client.js'
import { startRedis, LOCAL_REDIS_DIR, type LocalRedis } from '../redis/local-server.js'
import { checkPasswordPolicy } from '../accounts/passwords.js'
import { parseEmail, parseUsername, publicUser } from '../accounts/users.js'
import { endAllSessions } from '../sessions/end-all.js'
import { randomToken } from '../crypto/secrets.js'
import { AuthError } from '../http/errors.js'

const USAGE = 'usage: npm run user -- add <email> [--password <pw>] [--username <name>] [--admin] [--unverified] | disable <email> | enable <email> | role <email> <admin|user> | list'

/** The config with a Redis to use: as configured, else the local one of `npm start`, else a new local one. */
async function withRedis (config: Config): Promise<{ config: Config, local?: LocalRedis }> {
  if (redisConfigured(config)) return { config }
  const dir = LOCAL_REDIS_DIR
  const running = (await readFile(join(dir, 'url'), 'utf8').catch(() => null))?.trim()
  if (running !== undefined) {
    const probe = createRedis({ ...config, redisUrl: running })
    const alive = await probe.connect().then(() => true, () => false)
    probe.disconnect()
    if (alive) return { config: { ...config, redisUrl: running } }
  }
  const local = await startRedis({ dir })
  return { config: { ...config, redisUrl: local.url }, local }
}

/**
 * The application as the server builds it, ready and connected, without listening. Logs go
 * to stderr, errors only: stdout is the command's answer, and a failure is reported once.
 */
export async function openApp (config: Config): Promise<FastifyInstance> {
  const server = Fastify({ ...serverOptions(config), logger: { level: config.logLevel === 'silent' ? 'silent' : 'error', stream: process.stderr } })
  try {
    // fp(): the app's decorators (users, hasher, sessions) on the instance the command uses.
    await server.register(fp(app), { config })
    await server.ready()
    // The server waits for Redis to come back; a command cannot, so it fails instead.
    if (server.redis.status !== 'ready') throw new Error('Redis cannot be reached')
  } catch (err) {
    await server.close()
    throw err
  }
  return server
}

export async function run (argv: string[], server: FastifyInstance, out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      password: { type: 'string' },
      username: { type: 'string' },
      admin: { type: 'boolean', default: false },
      unverified: { type: 'boolean', default: false }
    }
  })
  const [command, emailArg, roleArg] = positionals
  const users = server.users
  switch (command) {
    case 'add': {
      if (emailArg === undefined) { out(USAGE); return 2 }
      const email = parseEmail(emailArg)
      const generated = values.password === undefined
      const password = values.password ?? randomToken(15)
      checkPasswordPolicy(password)
      const created = await users.create({
        email,
        username: values.username === undefined ? null : parseUsername(values.username),
        passwordHash: await server.hasher.hash(password),
        role: values.admin ? 'admin' : 'user',
        emailVerified: !values.unverified
      })
      if (!created.ok) { out(`error: ${created.reason === 'email_taken' ? 'that email' : 'that username'} is already registered`); return 1 }
      out(JSON.stringify(publicUser(created.user)))
      // Printed once, on the operator's terminal: never logged.
      if (generated) out(`password: ${password}`)
      return 0
    }
    case 'disable': {
      if (emailArg === undefined) { out(USAGE); return 2 }
      const user = await users.findByEmail(emailArg)
      if (user === null) { out('error: no such user'); return 1 }
      await users.update(user.id, { disabled: true })
      const ended = await endAllSessions(server.sessions, user.id)
      await server.events.emit({ type: 'user.disabled', userId: user.id, data: { by: 'cli' } })
      out(`disabled ${user.email} (${ended} session(s) ended, token families included)`)
      return 0
    }
    case 'enable': {
      if (emailArg === undefined) { out(USAGE); return 2 }
      const user = await users.findByEmail(emailArg)
      if (user === null) { out('error: no such user'); return 1 }
      await users.update(user.id, { disabled: false })
      await server.events.emit({ type: 'user.enabled', userId: user.id, data: { by: 'cli' } })
      out(`enabled ${user.email}`)
      return 0
    }
    case 'role': {
      if (emailArg === undefined || (roleArg !== 'admin' && roleArg !== 'user')) { out(USAGE); return 2 }
      const user = await users.findByEmail(emailArg)
      if (user === null) { out('error: no such user'); return 1 }
      await users.update(user.id, { role: roleArg })
      out(`${user.email} is now ${roleArg === 'admin' ? 'an admin' : 'a user'}`)
      return 0
    }
    case 'list': {
      for (const u of await users.list()) {
        out([u.id, u.email, u.username ?? '-', u.role, u.emailVerified ? 'verified' : 'unverified', u.disabled ? 'disabled' : 'active', u.createdAt].join('\t'))
      }
      return 0
    }
    default:
      out(USAGE)
      return 2
  }
}

async function main (): Promise<void> {
  let loaded: Config
  try {
    loaded = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`${err.message}\n`); process.exit(1) }
    throw err
  }
  let code = 1
  let local: LocalRedis | undefined
  try {
    const resolved = await withRedis(loaded)
    local = resolved.local
    const server = await openApp(resolved.config)
    try {
      code = await run(process.argv.slice(2), server, line => process.stdout.write(`${line}\n`))
    } finally {
      await server.close()
    }
  } catch (err) {
    process.stderr.write(`error: ${err instanceof AuthError ? err.message : (err as Error).message}\n`)
  } finally {
    await local?.stop()
  }
  process.exit(code)
}

// Compared as paths, not as URL text: a path with a space or a symlink would never match.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
