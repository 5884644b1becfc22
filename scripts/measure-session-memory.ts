/*
 * Redis memory of one cookie session and of one bearer token family, by MEMORY USAGE.
 *   npx tsx scripts/measure-session-memory.ts
 * Runs its own redis-server (the project's redis.conf) in a temporary directory. The cost
 * per session at scale (used_memory delta over a million sessions, every index and counter
 * included) is measured by `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import app, { serverOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startRedis } from '../src/redis/local-server.js'

const PASSWORD = 'correct horse battery staple'
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

const dir = await mkdtemp(join(tmpdir(), 'gatehouse-mem-'))
const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-mem-outbox-'))
const server = await startRedis({ dir })
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_URL: server.url, MAIL_OUTBOX_DIR: outbox, LOGIN_RATE_LIMIT: '1000' })
const fastify = Fastify(serverOptions(config))
await fastify.register(app, { config })
await fastify.ready()
const redis = new Redis(server.url)

const usage = async (key: string): Promise<number> => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
const keysOf = async (pattern: string): Promise<string[]> => (await redis.keys(pattern)).sort()

try {
  const email = 'measure@example.com'
  const { UserRepository } = await import('../src/accounts/users.js')
  const { PasswordHasher } = await import('../src/accounts/passwords.js')
  const hasher = new PasswordHasher({ memoryCost: config.argon2MemoryKib, timeCost: config.argon2Iterations, parallelism: config.argon2Parallelism })
  const users = new UserRepository(redis, config.redisKeyPrefix)
  const created = await users.create({ email, passwordHash: await hasher.hash(PASSWORD), emailVerified: true })
  if (!created.ok) throw new Error('could not create the user')
  const id = created.user.id
  const rows: Array<[string, number]> = []

  // The session index is a field of the user's hash: its cost is the hash's growth.
  const userKey = `gh:user:{${id}}`
  const user0 = await usage(userKey)
  const login = await fastify.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': UA }, payload: { email, password: PASSWORD } })
  if (login.statusCode !== 200) throw new Error(`login answered ${login.statusCode}`)
  const [sessKey] = await keysOf('gh:sess:*')
  const s1 = await usage(sessKey)
  const i1 = await usage(userKey) - user0
  const [uaKey] = await keysOf('gh:ua:*')
  rows.push(['session key (compact string, User-Agent by reference)', s1], ['session index (field of the user hash, 1 entry)', i1], ['one session in total', s1 + i1])
  // Shared by every session: not a cost per session.
  rows.push(['User-Agent text, once for all sessions with it (shared)', await usage(uaKey)], ['live-session count by expiry minute (shared hash)', await usage('gh:sessions:expiring')])
  await fastify.inject({ method: 'POST', url: '/api/auth/login', headers: { 'user-agent': UA }, payload: { email, password: PASSWORD } })
  rows.push(['each further session: index growth', await usage(userKey) - user0 - i1])

  const token = await fastify.inject({ method: 'POST', url: '/api/auth/token', headers: { 'user-agent': 'gatehouse-cli/1.0' }, payload: { email, password: PASSWORD } })
  if (token.statusCode !== 200) throw new Error(`token answered ${token.statusCode}`)
  const [at] = await keysOf('gh:at:*')
  const [rt] = await keysOf('gh:rt:*')
  const [family] = await keysOf(`gh:user:{${id}}:tf:*`)
  const tindex = `gh:user:{${id}}:tokens`
  const parts = [await usage(at), await usage(rt), await usage(family), await usage(tindex)]
  rows.push(['access token key', parts[0]], ['refresh token key', parts[1]], ['family hash', parts[2]], ['family index (zset, 1 entry)', parts[3]], ['one token family in total', parts.reduce((a, b) => a + b, 0)])

  const refreshed = await fastify.inject({ method: 'POST', url: '/api/auth/token/refresh', payload: { refreshToken: token.json().refreshToken } })
  if (refreshed.statusCode !== 200) throw new Error(`refresh answered ${refreshed.statusCode}`)
  let total = 0
  for (const k of [...await keysOf('gh:at:*'), ...await keysOf('gh:rt:*'), family, tindex]) total += await usage(k)
  rows.push(['the same family after one refresh (2 access, 1 live + 1 spent refresh)', total])

  const width = Math.max(...rows.map(r => r[0].length))
  process.stdout.write(`redis ${String(await redis.call('INFO', 'server')).match(/redis_version:(\S+)/)?.[1]}\n`)
  for (const [name, bytes] of rows) process.stdout.write(`${name.padEnd(width)}  ${String(bytes).padStart(5)} B\n`)
} finally {
  redis.disconnect()
  await fastify.close()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
  await rm(outbox, { recursive: true, force: true })
}
