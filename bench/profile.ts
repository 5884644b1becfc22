/*
 * CPU profile of the server under GET /me load: `npm run bench:profile`.
 *
 * Starts redis-server and the server with `node --cpu-prof`, signs in, runs autocannon on
 * /me (64 connections, BENCH_DURATION seconds, default 15), stops the server so V8 writes
 * the profile, and writes a text summary (self and inclusive time of the top functions)
 * to bench/results/profile-me.txt. The .cpuprofile itself stays in the temporary directory
 * unless BENCH_KEEP_PROFILE=1 (then it is copied next to the summary, git-ignored).
 */
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, PROJECT_ROOT, startRedis } from '../src/redis/local-server.js'
import { UserRepository } from '../src/accounts/users.js'
import { PasswordHasher, OWASP_ARGON2 } from '../src/accounts/passwords.js'
import { randomToken } from '../src/crypto/secrets.js'

const DURATION = Number(process.env.BENCH_DURATION ?? 15)
const PASSWORD = 'bench horse battery staple'
const OUT = join(PROJECT_ROOT, 'bench', 'results', 'profile-me.txt')

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** Self and inclusive sample counts per function (name + file + line), top `n` of each. */
export function summarise (p: Profile, n = 30): string {
  const byId = new Map(p.nodes.map(x => [x.id, x]))
  const parent = new Map<number, number>()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  const label = (x: Node): string => {
    const f = x.callFrame
    const file = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\//, '').replace(`${PROJECT_ROOT}/`, '')}:${f.lineNumber + 1}`
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

async function main (): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'gatehouse-profile-'))
  const redisServer = await startRedis({ dir: join(tmp, 'redis') })
  const redis = new Redis(redisServer.url)
  const users = new UserRepository(redis, 'gh:')
  await users.create({ email: 'bench@example.test', passwordHash: await new PasswordHasher(OWASP_ARGON2).hash(PASSWORD), emailVerified: true })
  const port = await freePort()
  const profDir = join(tmp, 'prof')
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, REDIS_URL: redisServer.url, PORT: String(port), LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT: '100000', SESSION_SECRET: randomToken(32) },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const kill = setTimeout(() => child.kill('SIGKILL'), (DURATION + 120) * 1000)
  try {
    const base = `http://127.0.0.1:${port}`
    for (let i = 0; ; i++) {
      try { await fetch(`${base}/health/live`); break } catch { if (i > 300) throw new Error('server did not start') }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.test', password: PASSWORD }) })
    if (login.status !== 200) throw new Error(`login answered ${login.status}`)
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]
    const r = await autocannon({ url: `${base}/api/auth/me`, connections: 64, duration: DURATION, headers: { cookie } })
    process.stderr.write(`/me: ${Math.round(r['2xx'] / r.duration)} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}\n`)
    await new Promise<void>(resolve => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
    const file = (await readdir(profDir)).find(f => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error('no .cpuprofile written')
    const profile = JSON.parse(await readFile(join(profDir, file), 'utf8')) as Profile
    const text = `CPU profile of the server under GET /me, 64 connections, ${DURATION} s (${Math.round(r['2xx'] / r.duration)} req/s)\n` +
      `node ${process.version}; ${new Date().toISOString()}\n\n${summarise(profile)}\n`
    await writeFile(OUT, text)
    if (process.env.BENCH_KEEP_PROFILE === '1') await copyFile(join(profDir, file), join(PROJECT_ROOT, 'bench', 'results', 'me.cpuprofile'))
    process.stdout.write(text)
    process.stderr.write(`wrote ${relative(PROJECT_ROOT, OUT)}\n`)
  } finally {
    clearTimeout(kill)
    if (child.exitCode === null) child.kill('SIGKILL')
    redis.disconnect()
    await redisServer.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
