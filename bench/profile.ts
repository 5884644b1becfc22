/*
 * CPU profile of the server under GET /me load: `npm run bench:profile`; with
 * BENCH_PROFILE=login, under POST /login load instead (8 clients going round 64 accounts
 * with their device cookies, the server's libuv pool at 2 threads, as in `npm run bench`).
 *
 * Starts redis-server and the server (NODE_ENV=production, LOG_LEVEL=warn, pinned to CPU 0
 * when `taskset` is there, like `npm run bench`) with `node --cpu-prof`, signs in, runs
 * autocannon on /me (64 connections, BENCH_DURATION seconds, default 15), stops the server
 * so V8 writes the profile, and keeps only the samples taken while the load ran. Writes:
 *
 *   bench/results/profile-me-hooks.md   microseconds of CPU per request for each hook and
 *                                       plugin on the /me path (see hookCosts)
 *   bench/results/profile-me.txt        the same table, then self and inclusive time of
 *                                       the top functions
 *   (profile-login-hooks.md and profile-login.txt for the login)
 *
 * The .cpuprofile itself stays in the temporary directory unless BENCH_KEEP_PROFILE=1 (then
 * it is copied next to the summary, git-ignored).
 */
import autocannon from 'autocannon'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, PROJECT_ROOT, startRedis } from '../src/redis/local-server.js'
import { UserRepository } from '../src/accounts/users.js'
import { PasswordHasher, OWASP_ARGON2 } from '../src/accounts/passwords.js'
import { randomToken } from '../src/crypto/secrets.js'
import { signIn, waitFor } from './support.js'

const DURATION = Number(process.env.BENCH_DURATION ?? 15)
const SCENARIO = process.env.BENCH_PROFILE === 'login' ? 'login' : 'me'
const LOGIN_ACCOUNTS = Array.from({ length: 64 }, (_, i) => `bench-login-${i}@example.test`)
const PASSWORD = 'bench horse battery staple'
const RESULTS = join(PROJECT_ROOT, 'bench', 'results')
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, hitCount?: number, children?: number[] }
export interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** The profile's samples taken between `from` and `to` (µs on the monotonic clock V8 uses). */
export function window (p: Profile, from: number, to: number): Profile {
  const samples: number[] = []
  const timeDeltas: number[] = []
  let t = p.startTime
  let last = from
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]
    if (t < from || t > to) continue
    samples.push(p.samples[i])
    timeDeltas.push(t - last)
    last = t
  }
  return { ...p, samples, timeDeltas, startTime: from, endTime: to }
}

const shortUrl = (url: string): string => url.replace(/^file:\/\//, '').replace(`${PROJECT_ROOT}/`, '')

/** Fastify itself and the libraries it runs every request through. */
const CORE = /\/node_modules\/(fastify|find-my-way|avvio|fast-json-stringify|@fastify\/fast-json-stringify-compiler|fast-querystring|@fastify\/error|light-my-request|abstract-logging|pino|toad-cache|fastq)\//

/** The package a node_modules file belongs to, or the project-relative path of our own. */
function moduleOf (url: string): string {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  return m !== null ? m[1] : shortUrl(url)
}

type Kind = 'core' | 'app' | 'internal'
function kindOf (f: Node['callFrame']): Kind {
  if (f.url === '' || f.url.startsWith('node:')) return 'internal'
  return CORE.test(f.url) ? 'core' : 'app'
}

/**
 * CPU per request for each hook and plugin on the path, from a profile `p` (already cut to
 * the load window) during which `requests` requests were answered.
 *
 * Each sample goes to one bucket. The first frame from the leaf up that is not Node
 * internals decides: Fastify core (its own work, or Node writing the answer for it), or a
 * plugin or our code. Then the walk goes on up to the frame Fastify called (a hook, the
 * handler), which names the bucket: a hook's bucket holds what it calls itself (cookie
 * signing, hashing, setting headers) but not what Fastify does after the hook hands back
 * (the next hooks, the write), because that work sits under a Fastify frame again. Code
 * resumed after an await or a Redis reply has no Fastify caller: its bucket is its module.
 */
export function hookCosts (p: Profile, requests: number): Array<{ bucket: string, samples: number, usPerRequest: number, share: number }> {
  const byId = new Map(p.nodes.map(x => [x.id, x]))
  const parent = new Map<number, number>()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  const label = (n: Node): string => {
    const f = n.callFrame
    const name = f.functionName === '' ? `(anonymous ${f.lineNumber + 1}:${f.columnNumber + 1})` : f.functionName
    return `${moduleOf(f.url)} ${name}`
  }
  const cache = new Map<number, string>()
  const bucketOf = (id: number): string => {
    const hit = cache.get(id)
    if (hit !== undefined) return hit
    const leaf = byId.get(id) as Node
    // the first frame from the leaf up that is not Node internals decides who is working
    let cur: number | undefined = id
    while (cur !== undefined && kindOf((byId.get(cur) as Node).callFrame) === 'internal') cur = parent.get(cur)
    let result: string
    if (cur === undefined) {
      const name = leaf.callFrame.functionName
      result = name === '(idle)' || name === '(garbage collector)' || name === '(program)' ? name : 'Node: HTTP parsing, sockets, timers, microtask queue'
    } else if (kindOf((byId.get(cur) as Node).callFrame) === 'core') {
      result = cur === id ? 'Fastify core: routing, hook runners, reply, serialization' : 'Node: writing the answer, headers (called by Fastify core)'
    } else {
      // Up through plugin and app frames to the one Fastify called: that hook is the bucket.
      const innermost = moduleOf((byId.get(cur) as Node).callFrame.url)
      let outermost = innermost
      for (let at: number | undefined = cur; at !== undefined; at = parent.get(at)) {
        const f = (byId.get(at) as Node).callFrame
        if (kindOf(f) === 'app') outermost = moduleOf(f.url)
      }
      result = `${outermost === innermost ? innermost : `${outermost} → ${innermost}`} (resumed after an await or a Redis reply)`
      for (let at: number | undefined = cur; at !== undefined; at = parent.get(at)) {
        const node = byId.get(at) as Node
        if (kindOf(node.callFrame) !== 'app') continue
        let up = parent.get(at)
        while (up !== undefined && kindOf((byId.get(up) as Node).callFrame) === 'internal') up = parent.get(up)
        if (up === undefined) break
        if (kindOf((byId.get(up) as Node).callFrame) === 'core') {
          result = label(node)
          break
        }
      }
    }
    cache.set(id, result)
    return result
  }
  const counts = new Map<string, number>()
  for (const s of p.samples) {
    const b = bucketOf(s)
    counts.set(b, (counts.get(b) ?? 0) + 1)
  }
  const usPerSample = (p.endTime - p.startTime) / Math.max(1, p.samples.length)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([bucket, samples]) => ({
    bucket,
    samples,
    usPerRequest: Math.round(samples * usPerSample / requests * 100) / 100,
    share: Math.round(1000 * samples / p.samples.length) / 10
  }))
}

export function hookTable (rows: ReturnType<typeof hookCosts>, requests: number, seconds: number): string {
  const busy = rows.filter(r => r.bucket !== '(idle)')
  const total = busy.reduce((sum, r) => sum + r.usPerRequest, 0)
  return [
    '| hook or plugin on the path | µs per request | share of samples |',
    '| --- | --- | --- |',
    // Under 0.5 % of the busy time is left out: a login's main thread is idle 99 % of the
    // time (its hash runs on the pool), so a share of all samples would leave nothing.
    ...rows.filter(r => r.bucket === '(idle)' || r.usPerRequest >= total * 0.005).map(r => `| ${r.bucket} | ${r.usPerRequest.toFixed(2)} | ${r.share.toFixed(1)} % |`),
    `| everything but idle | ${total.toFixed(2)} | |`,
    '',
    `${requests.toLocaleString('en')} requests in ${seconds.toFixed(1)} s. Buckets under 0.5 % of the busy time are left out of the table.`
  ].join('\n')
}

/** Self and inclusive sample counts per function (name + file + line), top `n` of each. */
export function summarise (p: Profile, n = 30): string {
  const byId = new Map(p.nodes.map(x => [x.id, x]))
  const parent = new Map<number, number>()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  const label = (x: Node): string => {
    const f = x.callFrame
    const file = f.url === '' ? '' : ` ${shortUrl(f.url)}:${f.lineNumber + 1}`
    return `${f.functionName === '' ? '(anonymous)' : f.functionName}${file}`
  }
  const self = new Map<string, number>()
  // callers (two frames up) of each function, weighted by its self samples
  const callers = new Map<string, Map<string, number>>()
  const total = new Map<string, number>()
  const counts = new Map<number, number>()
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1)
  let all = 0
  for (const [id, c] of counts) {
    all += c
    const node = byId.get(id)
    if (node === undefined) continue
    self.set(label(node), (self.get(label(node)) ?? 0) + c)
    const p1 = parent.get(id)
    const p2 = p1 === undefined ? undefined : parent.get(p1)
    const chain = [p1, p2].filter((x): x is number => x !== undefined).map(x => label(byId.get(x) as Node).split(' ')[0]).join(' < ')
    const m = callers.get(label(node)) ?? new Map<string, number>()
    m.set(chain, (m.get(chain) ?? 0) + c)
    callers.set(label(node), m)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur) as Node)
      if (seen.has(l)) continue
      seen.add(l)
      total.set(l, (total.get(l) ?? 0) + c)
    }
  }
  const pct = (c: number): string => `${(100 * c / all).toFixed(1).padStart(5)} %`
  const top = (m: Map<string, number>): string[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([l, c]) => `${pct(c)}  ${l}`)
  const dur = (p.endTime - p.startTime) / 1e6
  return [
    `${all} samples over ${dur.toFixed(1)} s`,
    '',
    `Top ${n} by self time:`,
    ...top(self),
    '',
    `Top ${n} by inclusive time (function and what it calls):`,
    ...top(total),
    '',
    'Where the top 8 by self time are called from (caller < its caller):',
    ...[...self].sort((a, b) => b[1] - a[1]).slice(0, 8).flatMap(([l]) => [
      l,
      ...[...(callers.get(l) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([chain, c]) => `    ${pct(c)}  ${chain}`)
    ])
  ].join('\n')
}

/** V8's profile clock: CLOCK_MONOTONIC in microseconds, the clock of process.hrtime too. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

async function main (): Promise<void> {
  if (PIN) spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' })
  const tmp = await mkdtemp(join(tmpdir(), 'gatehouse-profile-'))
  const redisServer = await startRedis({ dir: join(tmp, 'redis') })
  const redis = new Redis(redisServer.url)
  const users = new UserRepository(redis, 'gh:')
  const passwordHash = await new PasswordHasher(OWASP_ARGON2).hash(PASSWORD)
  for (const email of ['bench@example.test', ...(SCENARIO === 'login' ? LOGIN_ACCOUNTS : [])]) await users.create({ email, passwordHash, emailVerified: true })
  const port = await freePort()
  const profDir = join(tmp, 'prof')
  const args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', 'src/server.ts']
  const child = spawn(PIN ? 'taskset' : process.execPath, PIN ? ['-c', '0', process.execPath, ...args] : args, {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisServer.url,
      PORT: String(port),
      LOGIN_RATE_LIMIT: '100000',
      SESSION_SECRET: randomToken(32),
      DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      METRICS_TOKEN: randomToken(16),
      ...(SCENARIO === 'login' ? { UV_THREADPOOL_SIZE: '2' } : {})
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const kill = setTimeout(() => child.kill('SIGKILL'), (DURATION + 120) * 1000)
  try {
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/health/live`)
    const cookie = (await signIn(base, 'bench@example.test', PASSWORD)).session
    let next = 0
    const bodies = LOGIN_ACCOUNTS.map(email => JSON.stringify({ email, password: PASSWORD }))
    // Returning browsers, as in `npm run bench`: each account's device cookie from a first sign-in.
    const devices = SCENARIO === 'me'
      ? []
      : await Promise.all(LOGIN_ACCOUNTS.map(async email => (await signIn(base, email, PASSWORD)).device ?? ''))
    const opts: autocannon.Options = SCENARIO === 'me'
      ? { url: `${base}/api/auth/me`, connections: 64, headers: { cookie } }
      : { url: `${base}/api/auth/login`, method: 'POST', connections: 8, headers: { 'content-type': 'application/json' }, requests: [{ setupRequest: (req: any) => { const i = next++ % bodies.length; return { ...req, body: bodies[i], headers: { ...req.headers, cookie: devices[i] } } } }] }
    // Warm-up (JIT), outside the window that is analysed.
    await autocannon({ ...opts, duration: 3 })
    const from = nowUs()
    const r = await autocannon({ ...opts, duration: DURATION })
    const to = nowUs()
    const requests = r['2xx'] + r.non2xx
    process.stderr.write(`${SCENARIO}: ${Math.round(r['2xx'] / r.duration)} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}\n`)
    await new Promise<void>(resolve => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
    const file = (await readdir(profDir)).find(f => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error('no .cpuprofile written')
    const profile = window(JSON.parse(await readFile(join(profDir, file), 'utf8')) as Profile, from, to)
    if (profile.samples.length === 0) throw new Error('no samples in the load window: is the profile clock not CLOCK_MONOTONIC here?')
    const seconds = (to - from) / 1e6
    const hooks = hookTable(hookCosts(profile, requests), requests, seconds)
    const heading = `CPU profile of the server under ${SCENARIO === 'me' ? 'GET /me, 64 connections' : 'POST /login, 8 connections, 64 accounts, libuv pool of 2'}, ${DURATION} s (${Math.round(r['2xx'] / r.duration)} req/s), NODE_ENV=production\n` +
      `node ${process.version}; ${new Date().toISOString()}; pinned: ${PIN ? 'server on CPU 0, load and Redis on CPU 1' : 'no'}\n\n`
    await writeFile(join(RESULTS, `profile-${SCENARIO}-hooks.md`), `${heading}${hooks}\n`)
    const text = `${heading}${hooks}\n\n${summarise(profile)}\n`
    await writeFile(join(RESULTS, `profile-${SCENARIO}.txt`), text)
    if (process.env.BENCH_KEEP_PROFILE === '1') await copyFile(join(profDir, file), join(RESULTS, `${SCENARIO}.cpuprofile`))
    process.stdout.write(text)
    process.stderr.write(`wrote ${relative(PROJECT_ROOT, join(RESULTS, `profile-${SCENARIO}-hooks.md`))} and profile-${SCENARIO}.txt\n`)
  } finally {
    clearTimeout(kill)
    if (child.exitCode === null) child.kill('SIGKILL')
    redis.disconnect()
    await redisServer.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
