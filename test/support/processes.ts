import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { freePort, PROJECT_ROOT, REDIS_CONF, startRedis, type LocalRedis } from '../../src/redis/local-server.js'
import { requireTool } from './tools.js'

/*
 * Every process the tests start: redis-server instances (single, Cluster, Sentinel) that
 * can be killed, paused and restarted on the same port and data directory, and Gatehouse
 * servers run as `npm start` runs them (`node --import tsx src/server.ts`). Every process
 * started here is killed at teardown, whatever happened in the test.
 */

export async function tempDir (t: Pick<Test, 'teardown'>, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `gatehouse-${label}-`))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * One redis-server per test file (tap runs files as separate processes), from the
 * project's redis.conf, on a free port in a temporary directory; stopped at teardown.
 */
export async function startTestRedis (t: Pick<Test, 'teardown'>): Promise<LocalRedis> {
  requireTool('redis-server')
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'))
  const redis = await startRedis({ dir })
  t.teardown(async () => {
    await redis.stop()
    await rm(dir, { recursive: true, force: true })
  })
  return redis
}

function killOnTeardown (t: Test, child: ChildProcess): void {
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    try { child.kill('SIGCONT') } catch {}
    child.kill('SIGKILL')
    await exited
  })
}

/**
 * A redis-server from redis.conf on `port` (free one if omitted) with data in `dir`.
 * With `ownConfig`, it runs on a copy of redis.conf in `dir`: Sentinel sends CONFIG REWRITE
 * to the instances it reconfigures, which would otherwise rewrite the project's file.
 */
export async function redisAt (t: Test, dir: string, port?: number, extraArgs: string[] = [], ownConfig = false): Promise<LocalRedis> {
  let conf: string | undefined
  if (ownConfig) {
    conf = join(dir, 'redis.conf')
    await copyFile(REDIS_CONF, conf)
  }
  const redis = await startRedis({ dir, port, extraArgs, conf })
  killOnTeardown(t, redis.process)
  return redis
}

/** kill -9: no shutdown save, whatever is not in the AOF is gone. */
export async function kill9 (redis: LocalRedis): Promise<void> {
  await redis.stop('SIGKILL')
}

export interface ServerProcess {
  url: string
  port: number
  child: ChildProcess
  /** stdout lines (pino JSON) so far */
  lines: string[]
  /** resolves with the first line (parsed) for which `match` is true, old lines included */
  waitForLog: (match: (entry: Record<string, any>) => boolean, options?: { timeoutMs?: number, from?: number }) => Promise<Record<string, any>>
  /** resolves when the process has exited and its output is read */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** the last 2000 characters of stderr */
  stderr: () => string
}

export const TEST_SECRET = 'resilience-test-secret-0123456789abcdef'

/** Starts `node --import tsx src/server.ts` and resolves once it listens. */
export async function startServer (t: Test, env: Record<string, string>, port?: number): Promise<ServerProcess> {
  port ??= await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      SESSION_SECRET: TEST_SECRET,
      LOGIN_RATE_LIMIT: '1000',
      EMAIL_TOKEN_RATE_LIMIT: '1000',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  killOnTeardown(t, child)
  // Resolves once stdout is drained too, so `lines` then holds everything the process logged.
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  const lines: string[] = []
  const waiters = new Set<() => void>()
  let buffer = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts.filter(Boolean))
    for (const w of waiters) w()
  })
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000) })

  // 'close', not 'exit': the last log lines may still be in the pipe when the process exits.
  let closed = false
  child.once('close', () => {
    if (buffer !== '') lines.push(buffer)
    closed = true
    for (const w of waiters) w()
  })

  const parse = (line: string): Record<string, any> => { try { return JSON.parse(line) } catch { return {} } }
  const waitForLog = async (match: (entry: Record<string, any>) => boolean, { timeoutMs = 30_000, from = 0 } = {}): Promise<Record<string, any>> => {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = lines.slice(from).map(parse).find(match)
        if (hit !== undefined) { done(); resolve(hit) } else if (closed) { done(); reject(new Error(`server exited before the expected log line; stderr: ${stderr}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`no matching log line in ${timeoutMs} ms; stderr: ${stderr}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      check()
    })
  }
  await waitForLog(e => typeof e.msg === 'string' && e.msg.startsWith('Server listening at'), { timeoutMs: 60_000 })
  return { url: `http://127.0.0.1:${port}`, port, child, lines, waitForLog, exited, stderr: () => stderr }
}

/** Polls until `probe` is true; throws after `timeoutMs`. */
export async function until (what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** redis-cli, synchronously; throws with its output when it fails. */
export function redisCli (args: string[]): string {
  requireTool('redis-cli')
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stdout} ${r.stderr}`)
  return r.stdout
}

export { writeFile, sleep }

export interface ApiServer extends ServerProcess {
  /** the origin the server puts in its links (APP_ORIGIN) */
  origin: string
  outbox: string
  /** its Redis, which a test may kill, pause and restart (`redisAt(t, redis.dir, redis.port)`) */
  redis: LocalRedis
}

/**
 * The real server against a Redis of its own, with mail written to a temporary outbox and
 * links pointing at `publicHost` (localhost by default, a second name for cross-site tests).
 */
export async function startApiServer (t: Test, options: { port?: number, publicHost?: string, env?: Record<string, string> } = {}): Promise<ApiServer> {
  requireTool('redis-server')
  const redis = await redisAt(t, await tempDir(t, 'redis'))
  const outbox = await tempDir(t, 'outbox')
  const port = options.port ?? await freePort()
  const origin = `http://${options.publicHost ?? 'localhost'}:${port}`
  const server = await startServer(t, { REDIS_URL: redis.url, MAIL_OUTBOX_DIR: outbox, APP_ORIGIN: origin, ...options.env }, port)
  return { ...server, origin, outbox, redis }
}

/** The routes the running server documents (and so has). */
export async function documentedRoutes (api: { url: string }): Promise<Set<string>> {
  const doc = await (await fetch(`${api.url}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> }
  const out = new Set<string>()
  for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) out.add(`${m.toUpperCase()} ${path}`)
  return out
}

export interface TestCluster {
  nodes: LocalRedis[]
  spec: string
  /** the cluster arguments of node i, to restart it on its own bus port */
  args: string[][]
}

/**
 * A three-master Redis Cluster on loopback: three redis-server processes from redis.conf
 * with cluster mode on (own data dir, own bus port), joined with `redis-cli --cluster
 * create`, ready once every node reports cluster_state:ok.
 */
export async function startCluster (t: Test): Promise<TestCluster> {
  const nodes: LocalRedis[] = []
  const args: string[][] = []
  for (let i = 0; i < 3; i++) {
    const dir = await tempDir(t, `cluster-${i}`)
    const bus = await freePort()
    args.push(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus), '--cluster-node-timeout', '5000'])
    nodes.push(await redisAt(t, dir, undefined, args[i]))
  }
  const spec = nodes.map(n => `127.0.0.1:${n.port}`).join(',')
  redisCli(['--cluster', 'create', ...spec.split(','), '--cluster-replicas', '0', '--cluster-yes'])
  await until('cluster_state:ok on every node', async () => nodes.every(n => redisCli(['-p', String(n.port), 'CLUSTER', 'INFO']).includes('cluster_state:ok')), 60_000)
  return { nodes, spec, args }
}

/**
 * One Redis Sentinel (quorum 1) watching the master on `masterPort` under `name`:
 * `redis-server <conf> --sentinel`, which is what redis-sentinel is. Fails over after 2 s
 * of silence. Killed at teardown. Answers its port and a redis-cli bound to it.
 */
export async function startSentinel (t: Test, masterPort: number, name: string): Promise<{ port: number, ask: (...args: string[]) => string }> {
  const dir = await tempDir(t, 'sentinel')
  const port = await freePort()
  const conf = join(dir, 'sentinel.conf')
  await writeFile(conf, [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${name} 2000`,
    `sentinel failover-timeout ${name} 10000`,
    ''
  ].join('\n'))
  killOnTeardown(t, spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }))
  const ask = (...args: string[]): string => redisCli(['-p', String(port), ...args])
  await until('the sentinel answers for its master', async () => ask('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).includes(String(masterPort)))
  return { port, ask }
}
