/*
 * A/B of GET /me between checkouts: `npx tsx bench/ab.ts [dir ...]` (default: this
 * checkout). Each directory is a Gatehouse checkout with its node_modules; every one runs
 * as a server (NODE_ENV=production, LOG_LEVEL=warn, on CPU 0 when pinning) on its own Redis,
 * next to the lean @fastify/session baseline, and they take turns under the same load
 * (autocannon, 64 connections, AB_SECONDS a run, AB_ROUNDS rounds, the order rotating).
 * Prints each one's median req/s and its median ratio to lean in the same round: what a
 * change to the /me path is worth, in minutes instead of the full `npm run bench`.
 */
import autocannon from 'autocannon'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, PROJECT_ROOT, startRedis, type LocalRedis } from '../src/redis/local-server.js'
import { UserRepository } from '../src/accounts/users.js'
import { PasswordHasher, OWASP_ARGON2 } from '../src/accounts/passwords.js'
import { randomToken } from '../src/crypto/secrets.js'
import { userRecordKey } from './baselines/common.js'
import { signIn, waitFor } from './support.js'

const SECONDS = Number(process.env.AB_SECONDS ?? 3)
const ROUNDS = Number(process.env.AB_ROUNDS ?? 4)
const PIN = availableParallelism() >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0
const PASSWORD = 'bench horse battery staple'
const EMAIL = 'bench@example.test'
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const dirs = process.argv.length > 2 ? process.argv.slice(2).map(d => resolve(d)) : [PROJECT_ROOT]

const children: ChildProcess[] = []
const servers: LocalRedis[] = []
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2 }

function startNode (cwd: string, script: string, env: Record<string, string>): void {
  const args = ['--import', 'tsx', script]
  const child = spawn(PIN ? 'taskset' : process.execPath, PIN ? ['-c', '0', process.execPath, ...args] : args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
}

async function login (base: string): Promise<string> {
  return (await signIn(base, EMAIL, PASSWORD, UA)).session
}

async function main (): Promise<void> {
  if (PIN) spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' })
  const tmp = await mkdtemp(join(tmpdir(), 'gatehouse-ab-'))
  try {
    const passwordHash = await new PasswordHasher(OWASP_ARGON2).hash(PASSWORD)
    const targets: Array<{ name: string, base: string, cookie: string }> = []
    let body = ''
    for (const [i, dir] of dirs.entries()) {
      const server = await startRedis({ dir: join(tmp, `redis-${i}`) })
      servers.push(server)
      const redis = new Redis(server.url)
      await new UserRepository(redis, 'gh:').create({ email: EMAIL, username: 'bench', passwordHash, firstName: 'Bench', lastName: 'Mark', emailVerified: true })
      redis.disconnect()
      const port = await freePort()
      startNode(dir, 'src/server.ts', { NODE_ENV: 'production', LOG_LEVEL: 'warn', REDIS_URL: server.url, PORT: String(port), LOGIN_RATE_LIMIT: '100000000', SESSION_SECRET: randomToken(32), DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'), METRICS_TOKEN: randomToken(16) })
      const base = `http://127.0.0.1:${port}`
      await waitFor(`${base}/health/live`)
      const cookie = await login(base)
      if (body === '') body = await (await fetch(`${base}/api/auth/me`, { headers: { cookie } })).text()
      targets.push({ name: `${i}:${dir}`, base, cookie })
    }
    const bodyFile = join(tmp, 'me.json')
    await writeFile(bodyFile, body)
    const leanRedis = await startRedis({ dir: join(tmp, 'redis-lean') })
    servers.push(leanRedis)
    const r = new Redis(leanRedis.url)
    await r.set(userRecordKey(EMAIL), JSON.stringify({ id: (JSON.parse(body) as { user: { id: string } }).user.id, passwordHash, user: {} }))
    r.disconnect()
    const leanPort = await freePort()
    startNode(PROJECT_ROOT, 'bench/baselines/lean-session.ts', { NODE_ENV: 'production', PORT: String(leanPort), REDIS_URL: leanRedis.url, BODY_FILE: bodyFile, SECRET: randomToken(32) })
    const leanBase = `http://127.0.0.1:${leanPort}`
    await waitFor(`${leanBase}/api/auth/me`)
    targets.push({ name: 'lean', base: leanBase, cookie: await login(leanBase) })

    const run = async (t: typeof targets[number], duration: number): Promise<number> => {
      const res = await autocannon({ url: `${t.base}/api/auth/me`, connections: 64, duration, headers: { cookie: t.cookie } })
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${t.name}: ${res.non2xx} non-2xx, ${res.errors} errors`)
      return res['2xx'] / res.duration
    }
    for (const t of targets) await run(t, 2)
    const rps = new Map<string, number[]>(targets.map(t => [t.name, []]))
    const ratios = new Map<string, number[]>(targets.map(t => [t.name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)]
      const got = new Map<string, number>()
      for (const t of order) got.set(t.name, await run(t, SECONDS))
      for (const t of targets) {
        rps.get(t.name)?.push(got.get(t.name) as number)
        ratios.get(t.name)?.push((got.get(t.name) as number) / (got.get('lean') as number))
      }
      process.stderr.write(`round ${round + 1}: ${targets.map(t => `${t.name} ${Math.round(got.get(t.name) as number)}`).join(', ')}\n`)
    }
    for (const t of targets) process.stdout.write(`${t.name}: ${Math.round(median(rps.get(t.name) as number[]))} req/s, ${median(ratios.get(t.name) as number[]).toFixed(3)} of lean\n`)
  } finally {
    for (const c of children) c.kill('SIGKILL')
    for (const s of servers) await s.stop('SIGKILL').catch(() => {})
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
