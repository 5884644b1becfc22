/*
 * Account administration without the HTTP API:
 *   npm run user -- add <email> [--password <pw>] [--username <name>] [--admin] [--unverified]
 *   npm run user -- disable <email>     (ends every session and token family of the account)
 *   npm run user -- enable <email>
 *   npm run user -- list
 * Uses REDIS_URL / REDIS_CLUSTER_NODES like the server; without them, the Redis that
 * `npm start` runs (var/redis/url), or, when that is not running, a redis-server started
 * on var/redis just for this command.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig, ConfigError, type Config } from '../config.js'
import { createRedis, type RedisClient } from '../redis/client.js'
import { startRedis, PROJECT_ROOT, type LocalRedis } from '../redis/local-server.js'
import { PasswordHasher, checkPasswordPolicy } from '../accounts/passwords.js'
import { UserRepository, parseEmail, parseUsername, publicUser } from '../accounts/users.js'
import { RedisSessionStore } from '../sessions/store.js'
import { TokenStore } from '../tokens/store.js'
import { randomToken } from '../crypto/secrets.js'
import { AuthError } from '../http/errors.js'

const USAGE = 'usage: npm run user -- add <email> [--password <pw>] [--username <name>] [--admin] [--unverified] | disable <email> | enable <email> | list'

export async function connect (config: Config): Promise<{ redis: RedisClient, local?: LocalRedis }> {
  if (config.redisUrl !== undefined || config.redisClusterNodes !== undefined) {
    const redis = createRedis(config)
    await redis.connect()
    return { redis }
  }
  const dir = join(PROJECT_ROOT, 'var', 'redis')
  const running = await readFile(join(dir, 'url'), 'utf8').catch(() => null)
  if (running !== null) {
    const redis = createRedis({ ...config, redisUrl: running.trim() })
    try {
      await redis.connect()
      return { redis }
    } catch {
      redis.disconnect()
    }
  }
  const local = await startRedis({ dir })
  const redis = createRedis({ ...config, redisUrl: local.url })
  await redis.connect()
  return { redis, local }
}

export async function run (argv: string[], config: Config, redis: RedisClient, out: (line: string) => void): Promise<number> {
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
  const [command, emailArg] = positionals
  const users = new UserRepository(redis, config.redisKeyPrefix)
  const sessions = new RedisSessionStore(redis, { prefix: config.redisKeyPrefix, ttl: config.sessionTtlMs, absoluteTtl: config.sessionAbsoluteTtlMs })
  const tokens = new TokenStore(redis, { prefix: config.redisKeyPrefix, accessTtl: config.accessTokenTtlMs, refreshTtl: config.refreshTokenTtlMs })
  switch (command) {
    case 'add': {
      if (emailArg === undefined) { out(USAGE); return 2 }
      const email = parseEmail(emailArg)
      const generated = values.password === undefined
      const password = values.password ?? randomToken(15)
      checkPasswordPolicy(password)
      const hasher = new PasswordHasher({ memoryCost: config.argon2MemoryKib, timeCost: config.argon2Iterations, parallelism: config.argon2Parallelism })
      const created = await users.create({
        email,
        username: values.username === undefined ? null : parseUsername(values.username),
        passwordHash: await hasher.hash(password),
        role: values.admin ? 'admin' : 'user',
        emailVerified: !values.unverified
      })
      if (!created.ok) { out(`error: ${created.reason === 'email_taken' ? 'that email' : 'that username'} is already registered`); return 1 }
      out(JSON.stringify(publicUser(created.user)))
      // Printed once, on the operator's terminal: never logged.
      if (generated) out(`password: ${password}`)
      return 0
    }
    case 'disable':
    case 'enable': {
      if (emailArg === undefined) { out(USAGE); return 2 }
      const user = await users.findByEmail(emailArg)
      if (user === null) { out('error: no such user'); return 1 }
      await users.update(user.id, { disabled: command === 'disable' })
      const ended = command === 'disable' ? await sessions.destroyAllForUser(user.id) : 0
      const families = command === 'disable' ? await tokens.endAllForUser(user.id) : 0
      out(`${command}d ${user.email}${command === 'disable' ? ` (${ended} session(s) ended, ${families} token famil${families === 1 ? 'y' : 'ies'} ended)` : ''}`)
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
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`${err.message}\n`); process.exit(1) }
    throw err
  }
  const { redis, local } = await connect(config)
  let code = 1
  try {
    code = await run(process.argv.slice(2), config, redis, line => process.stdout.write(`${line}\n`))
  } catch (err) {
    process.stderr.write(`error: ${err instanceof AuthError ? err.message : (err as Error).message}\n`)
  } finally {
    await redis.quit()
    await local?.stop()
  }
  process.exit(code)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
