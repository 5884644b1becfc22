/*
 * Gatehouse benchmarks: `npm run bench`.
 *
 * Starts its own redis-server (the project's redis.conf, in a temporary directory), the
 * server as a child process (`node --import tsx src/server.ts`) and a bare Fastify baseline,
 * then runs the four scenarios of issue 8, each against a baseline measured in the same run
 * (scenario 4 runs a second Redis and server holding the large number of sessions),
 * prints one table and writes bench/results/latest.json.
 *
 * Options (environment):
 *   BENCH_DURATION=15      seconds per measured run (default 15)
 *   BENCH_QUICK=1          100,000 sessions instead of 1,000,000 for the scale scenario
 *   BENCH_SESSIONS=N       sessions for the large scale point (overrides BENCH_QUICK)
 *   BENCH_CONNECTIONS=64   connections for GET /me
 *   BENCH_LOGIN_CONCURRENCY  concurrent logins and argon2.verify calls (default 2 x nproc)
 *   BENCH_OUT=path         where to write the JSON (default bench/results/latest.json)
 *   UV_THREADPOOL_SIZE     the server's libuv pool (default: nproc)
 */
import autocannon from 'autocannon'
import { spawn, type ChildProcess } from 'node:child_process'
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

const DURATION = Number(process.env.BENCH_DURATION ?? 15)
const WARMUP = Math.min(3, Math.max(1, Math.round(DURATION / 5)))
const BIG = Number(process.env.BENCH_SESSIONS ?? (process.env.BENCH_QUICK === '1' ? 100_000 : 1_000_000))
const SMALL = 1_000
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64)
const CPUS = availableParallelism()
const LOGIN_CONCURRENCY = Number(process.env.BENCH_LOGIN_CONCURRENCY ?? 2 * CPUS)
// The server's libuv pool (Argon2 runs there); it must be in the environment at start.
const THREADPOOL = process.env.UV_THREADPOOL_SIZE ?? String(CPUS)
const OUT = process.env.BENCH_OUT ?? join(PROJECT_ROOT, 'bench', 'results', 'latest.json')
const PREFIX = 'gh:'
const PASSWORD = 'bench horse battery staple'
const SESSIONS_PER_USER = 2
// A real browser's user agent: what a session record actually holds.
const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
// Everything is bounded: the whole run is killed after this long.
const DEADLINE_MS = (20 * 60 + 12 * DURATION) * 1000

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

async function waitFor (url: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    try {
      const r = await fetch(url)
      if (r.status < 500) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer within ${ms} ms`)
}

function startChild (args: string[], env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr?.on('data', (c: Buffer) => { process.stderr.write(`[${name}] ${c.toString()}`) })
  children.push(child)
  return child
}

interface Run { rps: number, p50: number, p99: number, total: number, non2xx: number, errors: number, duration: number }

function summarise (r: autocannon.Result): Run {
  return {
    rps: round(r['2xx'] / r.duration),
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    duration: round(r.duration)
  }
}

async function cannon (opts: autocannon.Options, warmup = true): Promise<Run> {
  if (warmup) await autocannon({ ...opts, duration: WARMUP })
  const r = await autocannon(opts)
  const s = summarise(r)
  if (s.errors > 0 || s.non2xx > 0) log(`${opts.title ?? opts.url}: ${s.non2xx} non-2xx, ${s.errors} errors`)
  return s
}

/** Two runs of one baseline, averaged; both kept so the spread is visible. */
function mean (a: Run, b: Run): Run & { runs: number[] } {
  return {
    rps: round((a.rps + b.rps) / 2),
    p50: round((a.p50 + b.p50) / 2),
    p99: round((a.p99 + b.p99) / 2),
    total: a.total + b.total,
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    duration: round(a.duration + b.duration),
    runs: [a.rps, b.rps]
  }
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d

/**
 * The Argon2 ceiling: argon2.verify with the server's parameters at `concurrency`, for
 * `seconds`, in a child process with the server's UV_THREADPOOL_SIZE.
 */
async function argon2Ceiling (hash: string, concurrency: number, seconds: number): Promise<{ rps: number, total: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/argon2-ceiling.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, UV_THREADPOOL_SIZE: THREADPOOL, HASH: hash, PASSWORD, CONCURRENCY: String(concurrency), SECONDS: String(seconds) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.push(child)
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`argon2 ceiling exited with ${String(code)}`)
  return JSON.parse(out) as { rps: number, total: number }
}

/** Sessions written through the store's own write path, many at a time (auto-pipelined). */
async function seedSessions (store: RedisSessionStore, count: number): Promise<void> {
  const BATCH = 5_000
  const now = Date.now()
  let userId = ''
  let done = 0
  const started = Date.now()
  while (done < count) {
    const n = Math.min(BATCH, count - done)
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < n; i++) {
      if ((done + i) % SESSIONS_PER_USER === 0) userId = crypto.randomUUID()
      writes.push(store.write(randomToken(32), {
        userId,
        createdAt: now,
        lastSeenAt: now,
        absoluteExpiresAt: now + store.absoluteTtl,
        ip: `198.51.100.${(done + i) % 250}`,
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

async function sessionCount (redis: Redis): Promise<number> {
  // The store's census holds one entry per live session (index keys have TTLs too, so the
  // keyspace's "expires" count would overstate it).
  return await redis.zcard('gh:sessions:live')
}

async function waitForAofRewrite (redis: Redis): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const p = await redisInfo(redis, 'persistence')
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') return
    await new Promise(resolve => setTimeout(resolve, 500))
  }
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

function machine (): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  return {
    nproc: CPUS,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30),
    node: process.version,
    redis: '',
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  }
}

async function main (): Promise<void> {
  const started = Date.now()
  const info = machine()
  tmp = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'))
  const email = 'bench@example.test'
  const passwordHash = await new PasswordHasher(OWASP_ARGON2).hash(PASSWORD)
  const loginBody = JSON.stringify({ email, password: PASSWORD })

  /*
   * A Redis with the bench user (made directly, argon2 hash with the server's default
   * parameters) and a server on it, signed in once. Scenario 4 runs two of these side by
   * side, one with 1,000 sessions and one with 1,000,000, and alternates between them.
   */
  const setup = async (name: string): Promise<{ redis: Redis, store: RedisSessionStore, base: string, cookie: string, meBody: string }> => {
    const server = await startRedis({ dir: join(tmp as string, name) })
    redisServers.push(server)
    const redis = new Redis(server.url, { enableAutoPipelining: true })
    const created = await new UserRepository(redis, PREFIX).create({ email, username: 'bench', passwordHash, firstName: 'Bench', lastName: 'Mark', emailVerified: true })
    if (!created.ok) throw new Error('could not create the bench user')
    const store = new RedisSessionStore(redis, { prefix: PREFIX, ttl: 604_800_000, absoluteTtl: 2_592_000_000 })
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    startChild(['--import', 'tsx', 'src/server.ts'], {
      REDIS_URL: server.url,
      PORT: String(port),
      LOGIN_RATE_LIMIT: '100000000',
      LOG_LEVEL: 'warn',
      UV_THREADPOOL_SIZE: THREADPOOL,
      NODE_ENV: 'development',
      SESSION_SECRET: randomToken(32)
    }, `server-${name}`)
    await waitFor(`${base}/health/live`)
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: loginBody })
    if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`)
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]
    const meRes = await fetch(`${base}/api/auth/me`, { headers: { cookie } })
    if (meRes.status !== 200) throw new Error(`/me answered ${meRes.status}`)
    return { redis, store, base, cookie, meBody: await meRes.text() }
  }

  const small = await setup('small')
  const { redis, base, cookie } = small
  info.redis = (await redisInfo(redis, 'server')).redis_version

  const barePort = await freePort()
  const bodyFile = join(tmp, 'me.json')
  await writeFile(bodyFile, small.meBody)
  startChild(['--import', 'tsx', 'bench/bare-server.ts'], { PORT: String(barePort), BODY_FILE: bodyFile }, 'bare')
  await waitFor(`http://127.0.0.1:${barePort}/api/auth/me`)

  // 1,000 live sessions on the first server, BIG on the second; seeded before anything is measured.
  await seedSessions(small.store, SMALL - await sessionCount(redis))
  const sessionsSmall = await sessionCount(redis)
  const big = await setup('big')
  log(`seeding ${BIG.toLocaleString('en')} sessions`)
  const mem0 = Number((await redisInfo(big.redis, 'memory')).used_memory)
  const count0 = await sessionCount(big.redis)
  const seedStart = Date.now()
  await seedSessions(big.store, BIG - count0)
  const seedSeconds = round((Date.now() - seedStart) / 1000)
  await waitForAofRewrite(big.redis)
  const sessionsBig = await sessionCount(big.redis)
  const mem1 = Number((await redisInfo(big.redis, 'memory')).used_memory)
  const perSessionUsed = round((mem1 - mem0) / (sessionsBig - count0))
  // MEMORY USAGE of filler session keys and their index zsets, on a sample.
  let keyBytes = 0
  let indexBytes = 0
  let sampled = 0
  for (let i = 0; i < 200; i++) {
    const key = await big.redis.randomkey()
    if (key?.startsWith(`${PREFIX}sess:`) !== true) continue
    const v = await big.redis.get(key)
    const userId = v === null ? null : extractUser(v)
    if (userId === null) continue
    const index = big.store.indexKey(userId)
    const [mk, mi, n] = await Promise.all([big.redis.memory('USAGE', key), big.redis.memory('USAGE', index), big.redis.zcard(index)])
    keyBytes += Number(mk)
    indexBytes += Number(mi) / Math.max(1, n)
    sampled++
  }
  const memoryUsage = sampled === 0 ? null : { sessionKey: round(keyBytes / sampled), indexShare: round(indexBytes / sampled), total: round((keyBytes + indexBytes) / sampled), sampled }

  const meOpts: autocannon.Options = { url: `${base}/api/auth/me`, connections: CONNECTIONS, duration: DURATION, headers: { cookie } }
  const loginOpts: autocannon.Options = {
    url: `${base}/api/auth/login`,
    method: 'POST',
    connections: LOGIN_CONCURRENCY,
    duration: DURATION,
    headers: { 'content-type': 'application/json' },
    body: loginBody
  }

  // 1. /me against the bare route.
  log(`scenario 1: GET /me vs bare route, ${CONNECTIONS} connections, ${DURATION} s each (${sessionsSmall} sessions)`)
  // bare, /me, bare, /me: the ratio is of the means, and a change of load on a shared
  // machine during the run shows up as a gap between the two runs of one kind.
  const bareOpts: autocannon.Options = { url: `http://127.0.0.1:${barePort}/api/auth/me`, connections: CONNECTIONS, duration: DURATION }
  const bare1 = await cannon(bareOpts)
  await autocannon({ ...meOpts, duration: WARMUP })
  const before = await commandCalls(redis)
  const me1 = await cannon(meOpts, false)
  const after = await commandCalls(redis)
  const bare2 = await cannon(bareOpts, false)
  const me2 = await cannon(meOpts, false)
  const bare = mean(bare1, bare2)
  const me = mean(me1, me2)
  // Redis commands and session writes (SET, the slide) of the first measured /me run.
  const meRequests = me1.total + me1.non2xx
  const sessionWrites = (after.set ?? 0) - (before.set ?? 0)
  const redisCallsPerMe = Object.keys(after).reduce((sum, k) => sum + (after[k] - (before[k] ?? 0)), 0)

  // 4. Scale (before any login adds sessions): /me on the server with 1,000 sessions and on the one with BIG, alternating.
  log(`scenario 4: /me with ${sessionsSmall.toLocaleString('en')} and with ${sessionsBig.toLocaleString('en')} sessions, alternating`)
  const bigOpts: autocannon.Options = { ...meOpts, url: `${big.base}/api/auth/me`, headers: { cookie: big.cookie } }
  const scaleSmall1 = await cannon(meOpts)
  const scaleBig1 = await cannon(bigOpts)
  const scaleSmall2 = await cannon(meOpts)
  const scaleBig2 = await cannon(bigOpts)
  const scaleSmall = mean(scaleSmall1, scaleSmall2)
  const meBig = mean(scaleBig1, scaleBig2)
  big.redis.disconnect()

  // 2. Logins against the Argon2 ceiling, same parameters and concurrency.
  log(`scenario 2: login vs argon2.verify ceiling, concurrency ${LOGIN_CONCURRENCY}`)
  const ceiling1 = await argon2Ceiling(passwordHash, LOGIN_CONCURRENCY, DURATION)
  const logins = await cannon(loginOpts)
  const ceiling2 = await argon2Ceiling(passwordHash, LOGIN_CONCURRENCY, DURATION)
  const ceiling = { rps: round((ceiling1.rps + ceiling2.rps) / 2), runs: [ceiling1.rps, ceiling2.rps] }

  // 3. /me alone, then /me under a login flood.
  log('scenario 3: /me alone, then /me with a login flood')
  const meAlone = await cannon(meOpts)
  const [meFlood, flood] = await Promise.all([cannon(meOpts, false), cannon({ ...loginOpts, duration: DURATION + 1 }, false)])

  const results = {
    date: new Date().toISOString(),
    machine: info,
    options: { durationSeconds: DURATION, serverThreadpool: Number(THREADPOOL), warmupSeconds: WARMUP, connections: CONNECTIONS, loginConcurrency: LOGIN_CONCURRENCY, sessionsPerUser: SESSIONS_PER_USER, userAgent: BROWSER_UA },
    scenarios: {
      me: {
        bare,
        me,
        ratio: round(me.rps / bare.rps, 3),
        target: 0.6,
        met: me.rps / bare.rps >= 0.6,
        redisCommandsPerRequest: round(redisCallsPerMe / meRequests, 3),
        redisCommandsByName: Object.fromEntries(Object.keys(after).map(k => [k, round((after[k] - (before[k] ?? 0)) / meRequests, 4)]).filter(([, v]) => (v as number) > 0)),
        sessionWritesPerRequest: round(sessionWrites / meRequests, 5)
      },
      login: { argon2Ceiling: ceiling, logins, ratio: round(logins.rps / ceiling.rps, 3), target: 0.85, met: logins.rps / ceiling.rps >= 0.85 },
      mixed: { meAlone, meWithFlood: meFlood, flood, p99Ratio: round(meFlood.p99 / Math.max(meAlone.p99, 1), 2), target: 5, met: meFlood.p99 <= 5 * Math.max(meAlone.p99, 1) },
      scale: {
        small: { sessions: sessionsSmall, me: scaleSmall },
        big: { sessions: sessionsBig, me: meBig },
        ratio: round(meBig.rps / scaleSmall.rps, 3),
        target: 0.1,
        met: Math.abs(meBig.rps / scaleSmall.rps - 1) <= 0.1,
        seedSeconds,
        memory: { usedMemoryPerSession: perSessionUsed, memoryUsage, target: 300, met: perSessionUsed <= 300 && (memoryUsage === null || memoryUsage.total <= 300) }
      }
    },
    totalSeconds: round((Date.now() - started) / 1000)
  }
  redis.disconnect()
  await mkdir(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true })
  await writeFile(OUT, JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(table(results) + '\n')
  log(`wrote ${OUT}`)
}

function extractUser (v: string): string | null {
  if (v.startsWith('{')) return (JSON.parse(v) as { u?: string }).u ?? null
  return v.split('|')[0] ?? null
}

type Results = any
export function table (r: Results): string {
  const s = r.scenarios
  const ok = (b: boolean): string => b ? 'yes' : 'NO'
  const rows: string[][] = [
    ['Scenario', 'Measured', 'Baseline (same run)', 'Ratio', 'Target', 'Met'],
    [`1. GET /me, ${r.options.connections as number} conn`, `${s.me.me.rps as number} req/s (runs ${(s.me.me.runs as number[]).join(', ')}), p50 ${s.me.me.p50 as number} ms, p99 ${s.me.me.p99 as number} ms`, `bare route ${s.me.bare.rps as number} req/s (runs ${(s.me.bare.runs as number[]).join(', ')}), p50 ${s.me.bare.p50 as number} ms, p99 ${s.me.bare.p99 as number} ms`, String(s.me.ratio), '>= 0.6', ok(s.me.met)],
    [`2. Login, concurrency ${r.options.loginConcurrency as number}`, `${s.login.logins.rps as number} logins/s, p99 ${s.login.logins.p99 as number} ms`, `argon2.verify loop ${s.login.argon2Ceiling.rps as number}/s (runs ${(s.login.argon2Ceiling.runs as number[]).join(', ')})`, String(s.login.ratio), '>= 0.85', ok(s.login.met)],
    ['3. /me p99 under login flood', `p99 ${s.mixed.meWithFlood.p99 as number} ms (${s.mixed.meWithFlood.rps as number} req/s; ${s.mixed.flood.rps as number} logins/s)`, `/me alone p99 ${s.mixed.meAlone.p99 as number} ms (${s.mixed.meAlone.rps as number} req/s)`, `${s.mixed.p99Ratio as number}x`, '<= 5x', ok(s.mixed.met)],
    [`4. /me with ${(s.scale.big.sessions as number).toLocaleString('en')} sessions`, `${s.scale.big.me.rps as number} req/s (runs ${(s.scale.big.me.runs as number[]).join(', ')}), p99 ${s.scale.big.me.p99 as number} ms`, `${(s.scale.small.sessions as number).toLocaleString('en')} sessions: ${s.scale.small.me.rps as number} req/s (runs ${(s.scale.small.me.runs as number[]).join(', ')}), p99 ${s.scale.small.me.p99 as number} ms`, String(s.scale.ratio), 'within 10%', ok(s.scale.met)],
    ['4. Redis memory per session', `${s.scale.memory.usedMemoryPerSession as number} B (used_memory delta)`, s.scale.memory.memoryUsage === null ? '-' : `MEMORY USAGE: key ${s.scale.memory.memoryUsage.sessionKey as number} B + index share ${s.scale.memory.memoryUsage.indexShare as number} B`, '', '<= 300 B', ok(s.scale.memory.met)]
  ]
  const lines = rows.map(cols => `| ${cols.join(' | ')} |`)
  lines.splice(1, 0, `|${rows[0].map(() => '---').join('|')}|`)
  return [
    ...lines,
    '',
    `Redis commands per GET /me (INFO commandstats; commands run by a script count too): ${Object.entries(s.me.redisCommandsByName as Record<string, number>).filter(([k]) => k !== 'info').map(([k, v]) => `${k} ${v}`).join(', ')}; session writes (SET) per request: ${s.me.sessionWritesPerRequest as number}.`,
    `Machine: ${r.machine.nproc as number} x ${r.machine.cpu as string}, Node ${r.machine.node as string}, Redis ${r.machine.redis as string}; load at start ${r.machine.loadAverageAtStart as string}; ${r.options.durationSeconds as number} s per run; server UV_THREADPOOL_SIZE=${r.options.serverThreadpool as number}.`
  ].join('\n')
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
