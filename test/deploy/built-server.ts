import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort, PROJECT_ROOT } from '../../src/redis/local-server.js'
import { startTestRedis } from '../helper.js'

/** Builds dist/ when it is missing or stale, as `npm start` does (locked: test files run in parallel). */
export async function ensureBuilt (): Promise<void> {
  await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: PROJECT_ROOT, timeout: 300_000 })
}

export interface BuiltServer { port: number, base: string, outbox: string, process: ChildProcess, output: () => string }

/**
 * The built server (`node dist/src/server.js`, what `npm start` runs) on a free port with a
 * Redis and an outbox of its own; `nodeArgs` go before the script, `cwd` is the project's
 * unless given. Stopped at teardown.
 */
export async function startBuiltServer (t: Test, env: Record<string, string> = {}, options: { nodeArgs?: string[], cwd?: string, port?: number } = {}): Promise<BuiltServer> {
  await ensureBuilt()
  const redis = await startTestRedis(t)
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'))
  const port = options.port ?? await freePort()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(PROJECT_ROOT, 'dist', 'src', 'server.js')], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      MAIL_OUTBOX_DIR: outbox,
      LOG_LEVEL: 'warn',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (c: Buffer): void => { output = (output + c.toString()).slice(-8000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>(resolve => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
    await rm(outbox, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the built server exited with ${child.exitCode}: ${output}`)
    try {
      if ((await fetch(`${base}/health/live`)).ok) break
    } catch {}
    if (i > 300) throw new Error(`the built server did not answer in time: ${output}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { port, base, outbox, process: child, output: () => output }
}
