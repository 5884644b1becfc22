import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, PROJECT_ROOT } from '../src/redis/local-server.js'
import { startTestRedis } from './helper.js'

type Tap = { teardown: (fn: () => unknown) => void }

export interface ApiServer { port: number, origin: string, outbox: string, process: ChildProcess }

/**
 * The real server (src/server.ts, as `npm start` runs it) on a free port, against a Redis
 * of its own, with mail written to a temporary outbox. Stopped at teardown.
 */
export async function startApiServer (t: Tap, options: { port?: number, publicHost?: string, env?: Record<string, string> } = {}): Promise<ApiServer> {
  const redis = await startTestRedis(t)
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'))
  const port = options.port ?? await freePort()
  const origin = `http://${options.publicHost ?? 'localhost'}:${port}`
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      MAIL_OUTBOX_DIR: outbox,
      APP_ORIGIN: origin,
      LOG_LEVEL: 'warn',
      LOGIN_RATE_LIMIT: '1000',
      EMAIL_TOKEN_RATE_LIMIT: '1000',
      ...options.env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-4000) })
  child.stderr?.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-4000) })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>(resolve => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
    await rm(outbox, { recursive: true, force: true })
  })
  // Ready when it answers; fail fast if it exits.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}: ${output}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/live`)
      if (res.ok) break
    } catch {}
    if (i > 600) throw new Error(`the server did not answer in time: ${output}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { port, origin, outbox, process: child }
}

/** The routes the running server documents (and so has). */
export async function documentedRoutes (api: ApiServer): Promise<Set<string>> {
  const doc = await (await fetch(`http://127.0.0.1:${api.port}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> }
  const out = new Set<string>()
  for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) out.add(`${m.toUpperCase()} ${path}`)
  return out
}
