/*
 * Gatehouse benchmarks: `npm run bench` (BENCH_QUICK=1 for a short run).
 *
 * Gatehouse and its baselines are measured in the SAME run, in interleaved rounds (each
 * round runs every stack once, in a rotated order), and compared by the median of the
 * per-round ratios, so a change of machine speed during the run cancels out:
 *
 *   bare            Fastify answering /me's JSON, no session (bench/baselines/bare.ts)
 *   floor           Fastify + ioredis: random id in a cookie, one GET of its SHA-256
 *   lean            @fastify/session on a one-GET ioredis store, SHA-256 keys, rolling: false
 *   connect-redis   @fastify/session + connect-redis as connect-redis's README sets it up
 *   gatehouse       src/server.ts, NODE_ENV=production, LOG_LEVEL=warn
 *
 * Scenarios: GET /me at 64 connections; POST /login at 8 against the Argon2 ceiling
 * (argon2.verify alone with the server's parameters and libuv pool); Redis bytes per
 * session (used_memory delta / sessions, everything a session writes included: Gatehouse
 * at the large scale point through its own store, the baselines from one real login's
 * record cloned under fresh ids); /me with 1,000 and with 1,000,000 sessions; /me p99
 * under a login flood.
 *
 * With `taskset` and two or more CPUs, every server runs on CPU 0, and this process (the
 * load generator) and the redis-servers it starts on CPU 1, so the server under test has
 * one core to itself.
 *
 * Options (environment):
 *   BENCH_QUICK=1            short run: 3 s runs, 2 rounds, 100,000 sessions
 *   BENCH_DURATION=6         seconds per measured run
 *   BENCH_ROUNDS=5           rounds of /me; BENCH_LOGIN_ROUNDS=3 rounds of login
 *   BENCH_SESSIONS=N         sessions for the large scale point
 *   BENCH_CONNECTIONS=64     connections for GET /me; BENCH_LOGIN_CONCURRENCY=8 for login
 *   BENCH_PIN=0              do not pin processes to CPUs
 *   BENCH_OUT=path           where to write the JSON (default bench/results/latest.json;
 *                            the table goes next to it as .md)
 */
import autocannon from 'autocannon'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { availableParallelism, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, PROJECT_ROOT, startRedis, type LocalRedis } from '../src/redis/local-server.js'
import { RedisSessionStore } from '../src/sessions/store.js'
import { UserRepository } from '../src/accounts/users.js'
import { PasswordHasher, OWASP_ARGON2 } from '../src/accounts/passwords.js'
import { randomToken } from '../src/crypto/secrets.js'
import { userRecordKey } from './baselines/common.js'
import { signIn, waitFor } from './support.js'

const QUICK = process.env.BENCH_QUICK === '1'
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 3 : 6))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 5))
const LOGIN_ROUNDS = Number(process.env.BENCH_LOGIN_ROUNDS ?? (QUICK ? 1 : 3))
const BIG = Number(process.env.BENCH_SESSIONS ?? (QUICK ? 100_000 : 1_000_000))
const SMALL = 1_000
/** sessions cloned per baseline to measure its Redis bytes per session */
const CLONES = QUICK ? 20_000 : 100_000
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64)
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 8)
const CPUS = availableParallelism()
// The server's libuv pool (Argon2 runs there); it must be in the environment at start.
const THREADPOOL = process.env.UV_THREADPOOL_SIZE ?? String(CPUS)
const OUT = process.env.BENCH_OUT ?? join(PROJECT_ROOT, 'bench', 'results', 'latest.json')
const PIN = process.env.BENCH_PIN !== '0' && CPUS >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0
const SERVER_CPU = '0'
const LOAD_CPU = '1'
const PREFIX = 'gh:'
const EMAIL = 'bench@example.test'
const PASSWORD = 'bench horse battery staple'
const SESSIONS_PER_USER = 2
/** accounts Gatehouse's login runs sign into, in turn (see loginOpts) */
const LOGIN_EMAILS = Array.from({ length: 64 }, (_, i) => `bench-login-${i}@example.test`)
// A real browser's user agent: what a session record actually holds.
const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
// Everything is bounded: the whole run is killed after this long.
const DEADLINE_MS = (15 * 60 + 40 * DURATION) * 1000

type StackName = 'bare' | 'floor' | 'lean' | 'connect-redis' | 'gatehouse'
const STACKS: StackName[] = ['bare', 'floor', 'lean', 'connect-redis', 'gatehouse']
const LOGIN_STACKS: Array<StackName | 'argon2'> = ['argon2', 'floor', 'lean', 'connect-redis', 'gatehouse']
const LABELS: Record<StackName, string> = {
  bare: 'bare Fastify, no session',
  floor: 'the floor: Fastify + ioredis, random id in a cookie, one GET of its SHA-256',
  lean: '@fastify/session on a lean ioredis store (one GET per read, SHA-256 keys, `rolling: false`)',
  'connect-redis': '@fastify/session + connect-redis (its README\'s setup)',
  gatehouse: 'Gatehouse'
}
/** where each baseline keeps its sessions (see bench/baselines/) */
const SESSION_PREFIX: Partial<Record<StackName, string>> = { floor: 'floor:', lean: 'lean:', 'connect-redis': 'cr:' }

const children: ChildProcess[] = []
const redisServers: LocalRedis[] = []
let tmp: string | undefined

function log (msg: string): void { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`) }

async function cleanup (): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const r of redisServers) await r.stop('SIGKILL').catch(() => {})
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true }).catch(() => {})
}

const watchdog = setTimeout(() => {
  log(`deadline of ${DEADLINE_MS / 1000} s reached; stopping`)
  cleanup().finally(() => process.exit(2)).catch(() => {})
}, DEADLINE_MS)
watchdog.unref()
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { cleanup().finally(() => process.exit(130)).catch(() => {}) })

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d
function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A node process running `script`, on the server CPU when pinning. */
function startNode (script: string, env: Record<string, string>, name: string, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const args = ['--import', 'tsx', script]
  const [cmd, argv] = PIN ? ['taskset', ['-c', SERVER_CPU, process.execPath, ...args]] : [process.execPath, args]
  const child = spawn(cmd, argv, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'pipe'] })
  child.stderr?.on('data', (c: Buffer) => { process.stderr.write(`[${name}] ${c.toString()}`) })
  children.push(child)
  return child
}

interface Run { rps: number, p50: number, p99: number, total: number, non2xx: number, errors: number }

async function cannon (opts: autocannon.Options): Promise<Run> {
  const r = await autocannon(opts)
  const s = { rps: round(r['2xx'] / r.duration), p50: r.latency.p50, p99: r.latency.p99, total: r['2xx'], non2xx: r.non2xx, errors: r.errors }
  if (s.errors > 0 || s.non2xx > 0) log(`${opts.url as string}: ${s.non2xx} non-2xx, ${s.errors} errors`)
  return s
}

/**
 * The Argon2 ceiling: argon2.verify with the server's parameters at `concurrency`, for
 * `seconds`, in a process like a server's (same CPU, same UV_THREADPOOL_SIZE).
 */
async function argon2Ceiling (hash: string, concurrency: number, seconds: number): Promise<Run> {
  const child = startNode('bench/argon2-ceiling.ts', { UV_THREADPOOL_SIZE: THREADPOOL, HASH: hash, PASSWORD, CONCURRENCY: String(concurrency), SECONDS: String(seconds) }, 'argon2', 'pipe')
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`argon2 ceiling exited with ${String(code)}`)
  const r = JSON.parse(out) as { rps: number, total: number }
  return { rps: r.rps, total: r.total, p50: 0, p99: 0, non2xx: 0, errors: 0 }
}

/**
 * Users for the seeded sessions, made before the memory is measured: each user's session
 * index is a field of the user's hash, which a real user has anyway. Clones of the bench
 * user's record under fresh ids.
 */
async function seedUsers (redis: Redis, template: Record<string, string>, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID())
  for (let i = 0; i < count; i += 5_000) {
    await Promise.all(ids.slice(i, i + 5_000).map(async id => await redis.hset(`${PREFIX}user:{${id}}`, { ...template, id, email: `${id}@example.test` })))
  }
  return ids
}

/** Sessions written through Gatehouse's own store, many at a time (auto-pipelined), SESSIONS_PER_USER for each of `users` (seedUsers: the store keeps no session of a missing user). */
async function seedSessions (store: RedisSessionStore, count: number, users: string[]): Promise<void> {
  const BATCH = 5_000
  const now = Date.now()
  let userId = ''
  let done = 0
  const started = Date.now()
  while (done < count) {
    const n = Math.min(BATCH, count - done)
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < n; i++) {
      const k = done + i
      if (k % SESSIONS_PER_USER === 0) userId = users[k / SESSIONS_PER_USER]
      writes.push(store.write(randomToken(32), {
        userId,
        createdAt: now,
        lastSeenAt: now,
        absoluteExpiresAt: now + store.absoluteTtlMs,
        ip: `198.51.100.${k % 250}`,
        userAgent: BROWSER_UA
      }))
    }
    await Promise.all(writes)
    done += n
    if (done % 100_000 === 0) log(`  ${done.toLocaleString('en')} sessions written (${round((Date.now() - started) / 1000)} s)`)
  }
}

async function redisInfo (redis: Redis, section: string): Promise<Record<string, string>> {
  const text = await redis.info(section)
  return Object.fromEntries(text.split('\r\n').filter(l => l.includes(':')).map(l => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]))
}
const usedMemory = async (redis: Redis): Promise<number> => Number((await redisInfo(redis, 'memory')).used_memory)

async function sessionCount (redis: Redis): Promise<number> {
  // The store's own count of live sessions (index keys have TTLs too, so the keyspace's
  // "expires" count would overstate it).
  return await new RedisSessionStore(redis, { prefix: PREFIX, ttlMs: 604_800_000, absoluteTtlMs: 2_592_000_000 }).countActive()
}

async function commandCalls (redis: Redis): Promise<Record<string, number>> {
  const s = await redisInfo(redis, 'commandstats')
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(s)) {
    const m = /calls=(\d+)/.exec(v)
    if (m !== null) out[k.replace('cmdstat_', '')] = Number(m[1])
  }
  return out
}

/** All keys matching `pattern`, by SCAN. */
async function scanKeys (redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

/** A key's kind: the key with its ids and digests replaced by `*`. */
const kindOf = (key: string): string => key.replace(/\{[^}]*\}/g, '{*}').replace(/[A-Za-z0-9_-]{16,}/g, '*')

/**
 * Where a store's bytes go: every key by kind (exact counts by SCAN), MEMORY USAGE of up
 * to 100 keys of each kind, extrapolated and divided by `sessions`.
 */
async function breakdown (redis: Redis, sessions: number): Promise<Record<string, { keys: number, bytesPerSession: number }>> {
  const byKind = new Map<string, string[]>()
  for (const k of await scanKeys(redis, '*')) {
    const kind = kindOf(k)
    const list = byKind.get(kind) ?? []
    list.push(k)
    byKind.set(kind, list)
  }
  const out: Record<string, { keys: number, bytesPerSession: number }> = {}
  const usage = async (k: string): Promise<number> => Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'))
  for (const [kind, keys] of byKind) {
    const sample = keys.slice(0, 100)
    let bytes = 0
    if (kind === `${PREFIX}user:{*}`) {
      // A user's hash is the user's own; only its session index (the field `sessions`)
      // belongs to the sessions: measured as the hash with it less the hash without.
      for (const k of sample) {
        const index = await redis.hget(k, 'sessions')
        if (index === null) continue
        const whole = await usage(k)
        await redis.hdel(k, 'sessions')
        bytes += whole - await usage(k)
        await redis.hset(k, 'sessions', index)
      }
      out[`${kind} field sessions`] = { keys: keys.length, bytesPerSession: round(bytes / sample.length * keys.length / sessions) }
      continue
    }
    for (const k of sample) bytes += await usage(k)
    out[kind] = { keys: keys.length, bytesPerSession: round(bytes / sample.length * keys.length / sessions) }
  }
  return out
}

/**
 * Redis bytes per session of a baseline: the record one real login wrote (`key`, its
 * value and TTL), cloned `CLONES` times under fresh keys of the same shape into an empty
 * Redis, used_memory delta divided by the clones.
 */
async function clonedBytesPerSession (source: Redis, target: Redis, key: string): Promise<number> {
  const value = await source.getBuffer(key)
  const pttl = await source.pttl(key)
  if (value === null) throw new Error(`${key} vanished`)
  const colon = key.lastIndexOf(':') + 1
  const prefix = key.slice(0, colon)
  const id = key.slice(colon)
  const fresh = /^[0-9a-f]+$/.test(id) ? (): string => randomBytes(id.length / 2).toString('hex') : (): string => randomBytes(id.length).toString('base64url').slice(0, id.length)
  await target.flushall()
  await target.config('SET', 'appendfsync', 'no')
  const before = await usedMemory(target)
  for (let done = 0; done < CLONES; done += 5_000) {
    await Promise.all(Array.from({ length: Math.min(5_000, CLONES - done) }, async () => await target.set(prefix + fresh(), value, 'PX', Math.max(pttl, 60_000))))
  }
  const bytes = (await usedMemory(target) - before) / CLONES
  await target.flushall()
  await target.config('SET', 'appendfsync', 'always')
  return round(bytes)
}

function machine (): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  return {
    nproc: CPUS,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30),
    node: process.version,
    redis: '',
    pinned: PIN ? `servers on CPU ${SERVER_CPU}; load generator and Redis on CPU ${LOAD_CPU}` : 'no',
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  }
}

/** Signs in to the bench user at `base` and checks the session: its cookie. */
async function login (base: string): Promise<string> {
  const { session } = await signIn(base, EMAIL, PASSWORD, BROWSER_UA)
  const me = await fetch(`${base}/api/auth/me`, { headers: { cookie: session } })
  if (me.status !== 200) throw new Error(`${base} /me answered ${me.status}`)
  return session
}

/** The device cookie (`gatehouseDevice=…`) a browser keeps after signing in to `email`. */
async function deviceCookie (base: string, email: string): Promise<string> {
  const { device } = await signIn(base, email, PASSWORD, BROWSER_UA)
  if (device === undefined) throw new Error(`${base} login of ${email} set no device cookie`)
  return device
}

async function main (): Promise<void> {
  const started = Date.now()
  // Pinned before anything starts: the redis-servers started below inherit this CPU.
  if (PIN) spawnSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const info = machine()
  tmp = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'))
  const passwordHash = await new PasswordHasher(OWASP_ARGON2).hash(PASSWORD)
  const loginBody = JSON.stringify({ email: EMAIL, password: PASSWORD })

  const redisAt = async (name: string): Promise<Redis> => {
    const server = await startRedis({ dir: join(tmp as string, name) })
    redisServers.push(server)
    return new Redis(server.url, { enableAutoPipelining: true })
  }
  // `main` serves every stack's throughput runs, `big` the Gatehouse that holds BIG
  // sessions, `clones` the baselines' memory measurement.
  const [main, big, clones] = await Promise.all([redisAt('main'), redisAt('big'), redisAt('clones')])
  info.redis = (await redisInfo(main, 'server')).redis_version
  const urlOf = (r: Redis): string => `redis://127.0.0.1:${r.options.port as number}`

  const startGatehouse = async (redis: Redis, name: string): Promise<{ base: string, store: RedisSessionStore }> => {
    const users = new UserRepository(redis, PREFIX)
    for (const [i, email] of [EMAIL, ...LOGIN_EMAILS].entries()) {
      const created = await users.create({ email, username: `bench${i}`, passwordHash, firstName: 'Bench', lastName: 'Mark', emailVerified: true })
      if (!created.ok) throw new Error('could not create the bench users')
    }
    const port = await freePort()
    startNode('src/server.ts', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      REDIS_URL: urlOf(redis),
      PORT: String(port),
      LOGIN_RATE_LIMIT: '100000000',
      UV_THREADPOOL_SIZE: THREADPOOL,
      SESSION_SECRET: randomToken(32),
      DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      METRICS_TOKEN: randomToken(16)
    }, name)
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/health/live`)
    return { base, store: new RedisSessionStore(redis, { prefix: PREFIX, ttlMs: 604_800_000, absoluteTtlMs: 2_592_000_000 }) }
  }
  const gatehouse = await startGatehouse(main, 'gatehouse')
  const gatehouseBig = await startGatehouse(big, 'gatehouse-big')
  const bases: Partial<Record<StackName, string>> = { gatehouse: gatehouse.base }
  const cookies: Partial<Record<StackName, string>> = { gatehouse: await login(gatehouse.base) }
  const meBody = await (await fetch(`${gatehouse.base}/api/auth/me`, { headers: { cookie: cookies.gatehouse as string } })).text()
  const bodyFile = join(tmp, 'me.json')
  await writeFile(bodyFile, meBody)
  const publicUser = (JSON.parse(meBody) as { user: { id: string } }).user
  await main.set(userRecordKey(EMAIL), JSON.stringify({ id: publicUser.id, passwordHash, user: publicUser }))

  for (const name of ['bare', 'floor', 'lean', 'connect-redis'] as const) {
    const port = await freePort()
    startNode(`bench/baselines/${name === 'lean' ? 'lean-session' : name}.ts`, { NODE_ENV: 'production', PORT: String(port), REDIS_URL: urlOf(main), BODY_FILE: bodyFile, SECRET: randomToken(32) }, name)
    bases[name] = `http://127.0.0.1:${port}`
    await waitFor(`${bases[name] as string}/api/auth/me`)
    if (name !== 'bare') cookies[name] = await login(bases[name] as string)
  }

  // Memory. The baselines: their login's record, cloned. Gatehouse: its own write path.
  const bytesPerSession: Partial<Record<StackName, number>> = {}
  for (const name of ['floor', 'lean', 'connect-redis'] as const) {
    const [key] = await scanKeys(main, `${SESSION_PREFIX[name] as string}*`)
    bytesPerSession[name] = await clonedBytesPerSession(main, clones, key)
  }
  clones.disconnect()
  // Sessions are kept only for users that exist (src/sessions/user-index.ts): bare records.
  const smallCount = SMALL - await sessionCount(main)
  await seedSessions(gatehouse.store, smallCount, await seedUsers(main, {}, Math.ceil(smallCount / SESSIONS_PER_USER)))
  const sessionsSmall = await sessionCount(main)
  const bigCookie = await login(gatehouseBig.base)
  // The seeding is not what is measured: no fsync per write while it runs.
  await big.config('SET', 'appendfsync', 'no')
  const count0 = await sessionCount(big)
  const { sessions: _index, ...template } = await big.hgetall(`${PREFIX}user:{${(await new UserRepository(big, PREFIX).findByEmail(EMAIL))?.id as string}}`)
  log(`seeding ${Math.ceil((BIG - count0) / SESSIONS_PER_USER).toLocaleString('en')} users, then ${BIG.toLocaleString('en')} Gatehouse sessions`)
  const users = await seedUsers(big, template, Math.ceil((BIG - count0) / SESSIONS_PER_USER))
  const mem0 = await usedMemory(big)
  const seedStart = Date.now()
  await seedSessions(gatehouseBig.store, BIG - count0, users)
  const seedSeconds = round((Date.now() - seedStart) / 1000)
  const sessionsBig = await sessionCount(big)
  const mem1 = await usedMemory(big)
  await big.config('SET', 'appendfsync', 'always')
  bytesPerSession.gatehouse = round((mem1 - mem0) / (sessionsBig - count0))
  const gatehouseBreakdown = await breakdown(big, sessionsBig)

  const meOpts = (name: StackName): autocannon.Options => ({ url: `${bases[name] as string}/api/auth/me`, connections: CONNECTIONS, duration: DURATION, headers: cookies[name] === undefined ? {} : { cookie: cookies[name] as string } })
  // Gatehouse's logins go round LOGIN_EMAILS: one account signed into by 8 clients at once
  // is what its per-account throttle is there to slow down (each attempt in flight holds
  // one of the account's free failures until it is settled), not what a login costs.
  // Each client signs in as a returning browser does, with the device cookie its account's
  // earlier sign-in left (the baselines have no such thing). Without it every sign-in is
  // from a device new to the account, which mails the owner: measured on its own
  // (`newDevice`), as a cost of that mail, not of a login.
  let nextAccount = 0
  const loginBodies = LOGIN_EMAILS.map(email => JSON.stringify({ email, password: PASSWORD }))
  const deviceCookies = await Promise.all(LOGIN_EMAILS.map(async email => await deviceCookie(gatehouse.base, email)))
  const loginOpts = (name: StackName, newDevice = false): autocannon.Options => ({
    url: `${bases[name] as string}/api/auth/login`,
    method: 'POST',
    connections: LOGIN_CONCURRENCY,
    duration: DURATION,
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
    ...(name === 'gatehouse'
      ? {
          requests: [{
            setupRequest: (req: any) => {
              const i = nextAccount++ % loginBodies.length
              return { ...req, body: loginBodies[i], headers: newDevice ? req.headers : { ...req.headers, cookie: deviceCookies[i] } }
            }
          }]
        }
      : { body: loginBody })
  })
  const rotate = <T>(xs: T[], r: number): T[] => [...xs.slice(r % xs.length), ...xs.slice(0, r % xs.length)]

  log(`warming up: /me of each stack for ${Math.max(2, DURATION / 2)} s`)
  for (const name of STACKS) await autocannon({ ...meOpts(name), duration: Math.max(2, DURATION / 2) })

  // 1. /me, interleaved rounds.
  log(`/me: ${ROUNDS} rounds of ${STACKS.length} stacks, ${DURATION} s each, ${CONNECTIONS} connections`)
  const me: Record<StackName, Run[]> = { bare: [], floor: [], lean: [], 'connect-redis': [], gatehouse: [] }
  let commandsPerMe: Record<string, number> = {}
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of rotate(STACKS, r)) {
      const before = r === 0 && name === 'gatehouse' ? await commandCalls(main) : undefined
      const run = await cannon(meOpts(name))
      me[name].push(run)
      if (before !== undefined) {
        const after = await commandCalls(main)
        const n = run.total + run.non2xx
        commandsPerMe = Object.fromEntries(Object.keys(after).filter(k => k !== 'info').map(k => [k, round((after[k] - (before[k] ?? 0)) / n, 4)]).filter(([, v]) => (v as number) > 0))
      }
    }
    log(`  round ${r + 1}: ${STACKS.map(n => `${n} ${me[n][r].rps}`).join(', ')}`)
  }

  // 2. Scale, before any login adds sessions: Gatehouse with 1,000 and with BIG sessions.
  log(`scale: /me with ${sessionsSmall.toLocaleString('en')} and ${sessionsBig.toLocaleString('en')} sessions, alternating`)
  const bigMeOpts: autocannon.Options = { ...meOpts('gatehouse'), url: `${gatehouseBig.base}/api/auth/me`, headers: { cookie: bigCookie } }
  await autocannon({ ...bigMeOpts, duration: Math.max(2, DURATION / 2) })
  const scaleSmall: Run[] = []
  const scaleBig: Run[] = []
  for (let r = 0; r < 2; r++) {
    scaleSmall.push(await cannon(meOpts('gatehouse')))
    scaleBig.push(await cannon(bigMeOpts))
  }
  big.disconnect()

  // 3. Login against the Argon2 ceiling, interleaved rounds.
  log(`login: ${LOGIN_ROUNDS} rounds, concurrency ${LOGIN_CONCURRENCY}`)
  const logins: Record<StackName | 'argon2', Run[]> = { argon2: [], bare: [], floor: [], lean: [], 'connect-redis': [], gatehouse: [] }
  const newDeviceLogins: Run[] = []
  for (let r = 0; r < LOGIN_ROUNDS; r++) {
    for (const name of rotate(LOGIN_STACKS, r)) {
      logins[name].push(name === 'argon2' ? await argon2Ceiling(passwordHash, LOGIN_CONCURRENCY, DURATION) : await cannon(loginOpts(name)))
    }
    newDeviceLogins.push(await cannon(loginOpts('gatehouse', true)))
    log(`  round ${r + 1}: ${LOGIN_STACKS.map(n => `${n} ${logins[n][r].rps}`).join(', ')}`)
  }

  // 4. /me alone, then /me under a login flood.
  log('flood: /me alone, then /me with a login flood')
  const meAlone = await cannon(meOpts('gatehouse'))
  const [meFlood, flood] = await Promise.all([cannon(meOpts('gatehouse')), cannon({ ...loginOpts('gatehouse'), duration: DURATION + 1 })])

  const ratioOf = (runs: Record<string, Run[]>, a: string, b: string): number => round(median(runs[a].map((x, i) => x.rps / runs[b][i].rps)), 3)
  const stacks = Object.fromEntries(STACKS.map(name => [name, {
    label: LABELS[name],
    me: { rps: round(median(me[name].map(x => x.rps))), p99: median(me[name].map(x => x.p99)), runs: me[name].map(x => x.rps) },
    ofBare: ratioOf(me, name, 'bare'),
    ofFloor: name === 'bare' ? null : ratioOf(me, name, 'floor'),
    gatehouseToThis: ratioOf(me, 'gatehouse', name),
    login: name === 'bare' ? null : { rps: round(median(logins[name].map(x => x.rps))), p99: median(logins[name].map(x => x.p99)), runs: logins[name].map(x => x.rps), ofCeiling: ratioOf(logins, name, 'argon2') },
    redisBytesPerSession: bytesPerSession[name] ?? null
  }]))
  const g = stacks.gatehouse
  const scaleRatio = round(median(scaleBig.map((x, i) => x.rps / scaleSmall[i].rps)), 3)
  const p99Ratio = round(meFlood.p99 / Math.max(meAlone.p99, 1), 2)
  const results = {
    date: new Date().toISOString(),
    machine: info,
    options: { quick: QUICK, durationSeconds: DURATION, rounds: ROUNDS, loginRounds: LOGIN_ROUNDS, serverThreadpool: Number(THREADPOOL), connections: CONNECTIONS, loginConcurrency: LOGIN_CONCURRENCY, sessionsPerUser: SESSIONS_PER_USER, clonesPerBaseline: CLONES, userAgent: BROWSER_UA },
    stacks,
    argon2Ceiling: { rps: round(median(logins.argon2.map(x => x.rps))), runs: logins.argon2.map(x => x.rps) },
    gatehouse: {
      redisCommandsPerMe: commandsPerMe,
      memory: { sessions: sessionsBig, usedMemoryPerSession: bytesPerSession.gatehouse, breakdown: gatehouseBreakdown, seedSeconds },
      scale: { small: { sessions: sessionsSmall, runs: scaleSmall.map(x => x.rps), p99: scaleSmall.map(x => x.p99) }, big: { sessions: sessionsBig, runs: scaleBig.map(x => x.rps), p99: scaleBig.map(x => x.p99) }, ratio: scaleRatio },
      flood: { meAlone, meWithFlood: meFlood, flood, p99Ratio },
      newDeviceLogin: { rps: round(median(newDeviceLogins.map(x => x.rps))), runs: newDeviceLogins.map(x => x.rps), ofCeiling: round(median(newDeviceLogins.map((x, i) => x.rps / logins.argon2[i].rps)), 3) }
    },
    targets: [
      { target: '`/me` at least 0.85 of lean @fastify/session', measured: stacks.lean.gatehouseToThis, met: stacks.lean.gatehouseToThis >= 0.85 },
      { target: '`/me` at least 1.5x @fastify/session + connect-redis', measured: stacks['connect-redis'].gatehouseToThis, met: stacks['connect-redis'].gatehouseToThis >= 1.5 },
      { target: 'login at least 0.95 of the Argon2 ceiling', measured: g.login?.ofCeiling, met: (g.login?.ofCeiling ?? 0) >= 0.95 },
      { target: `at most 300 B of Redis per session at ${sessionsBig.toLocaleString('en')} sessions`, measured: bytesPerSession.gatehouse, met: (bytesPerSession.gatehouse ?? Infinity) <= 300 },
      { target: `\`/me\` flat from ${sessionsSmall.toLocaleString('en')} to ${sessionsBig.toLocaleString('en')} sessions (within 10 %)`, measured: scaleRatio, met: Math.abs(scaleRatio - 1) <= 0.1 },
      { target: '`/me` p99 under a login flood at most 5x its p99 alone', measured: p99Ratio, met: p99Ratio <= 5 }
    ],
    totalSeconds: round((Date.now() - started) / 1000)
  }
  main.disconnect()
  await mkdir(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true })
  const text = table(results)
  await writeFile(OUT, JSON.stringify(results, null, 2) + '\n')
  await writeFile(OUT.replace(/\.json$/, '') + '.md', text + '\n')
  process.stdout.write(text + '\n')
  log(`wrote ${OUT} and its .md`)
}

type Results = any
export function table (r: Results): string {
  const f = (x: number | null | undefined, d = 2): string => x === null || x === undefined ? '-' : x.toFixed(d)
  const lines = [
    '| stack | `/me` req/s | of bare | of the floor | Gatehouse `/me` ÷ this | login/s | login of the Argon2 ceiling | Redis bytes per session |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...Object.values(r.stacks as Record<string, any>).map(s => `| ${s.label as string} | ${Math.round(s.me.rps as number).toLocaleString('en')} | ${f(s.ofBare)} | ${f(s.ofFloor)} | ${f(s.gatehouseToThis)} | ${s.login === null ? '-' : f(s.login.rps, 1)} | ${s.login === null ? '-' : f(s.login.ofCeiling)} | ${s.redisBytesPerSession === null ? '-' : Math.round(s.redisBytesPerSession as number)} |`),
    `| Argon2 ceiling (argon2.verify alone, same parameters, CPU and pool) | - | - | - | - | ${f(r.argon2Ceiling.rps, 1)} | 1.00 | - |`,
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...(r.targets as any[]).map(t => `| ${t.target as string} | ${t.measured === null || t.measured === undefined ? '-' : String(t.measured)} | ${t.met === true ? 'yes' : 'NO'} |`),
    '',
    `Medians of ${r.options.rounds as number} interleaved rounds for \`/me\` (${r.options.connections as number} connections) and ${r.options.loginRounds as number} for login (concurrency ${r.options.loginConcurrency as number}), ${r.options.durationSeconds as number} s a run; ratios are medians of the per-round ratios. Gatehouse \`/me\` runs: ${(r.stacks.gatehouse.me.runs as number[]).join(', ')}; p99 ${r.stacks.gatehouse.me.p99 as number} ms.`,
    `Redis commands per Gatehouse GET /me (INFO commandstats; commands run by a script count too): ${Object.entries(r.gatehouse.redisCommandsPerMe as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `Gatehouse Redis bytes per session at ${(r.gatehouse.memory.sessions as number).toLocaleString('en')} sessions (used_memory delta ${r.gatehouse.memory.usedMemoryPerSession as number} B), by key kind (MEMORY USAGE, sampled): ${Object.entries(r.gatehouse.memory.breakdown as Record<string, { keys: number, bytesPerSession: number }>).filter(([, v]) => v.bytesPerSession >= 0.5).map(([k, v]) => `\`${k}\` ${v.bytesPerSession} B (${v.keys.toLocaleString('en')} keys)`).join(', ')}. Baselines: one login's record cloned ${(r.options.clonesPerBaseline as number).toLocaleString('en')} times.`,
    `Scale: \`/me\` with ${(r.gatehouse.scale.small.sessions as number).toLocaleString('en')} sessions ${(r.gatehouse.scale.small.runs as number[]).join(', ')} req/s, with ${(r.gatehouse.scale.big.sessions as number).toLocaleString('en')} ${(r.gatehouse.scale.big.runs as number[]).join(', ')} req/s. Flood: \`/me\` p99 ${r.gatehouse.flood.meAlone.p99 as number} ms alone (${r.gatehouse.flood.meAlone.rps as number} req/s), ${r.gatehouse.flood.meWithFlood.p99 as number} ms under ${r.gatehouse.flood.flood.rps as number} logins/s (${r.gatehouse.flood.meWithFlood.rps as number} req/s).`,
    `Gatehouse logins come from returning browsers (each account's device cookie); from a device new to the account, each login also mails the owner: ${r.gatehouse.newDeviceLogin.rps as number} logins/s, ${f(r.gatehouse.newDeviceLogin.ofCeiling)} of the Argon2 ceiling.`,
    `Machine: ${r.machine.nproc as number} x ${r.machine.cpu as string}, Node ${r.machine.node as string}, Redis ${r.machine.redis as string}; pinned: ${r.machine.pinned as string}; load at start ${r.machine.loadAverageAtStart as string}; server UV_THREADPOOL_SIZE=${r.options.serverThreadpool as number}; ${r.totalSeconds as number} s in all.`
  ]
  return lines.join('\n')
}

try {
  await main()
  await cleanup()
  clearTimeout(watchdog)
  process.exit(0)
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`)
  await cleanup()
  process.exit(1)
}
