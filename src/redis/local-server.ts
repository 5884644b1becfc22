import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

/**
 * The folder holding package.json: the same from src/ under tsx and from dist/src/ once
 * built, so redis.conf, public/ and var/ are found either way.
 */
function projectRoot (from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`)
  }
}

export const PROJECT_ROOT = projectRoot(dirname(fileURLToPath(import.meta.url)))
export const REDIS_CONF = join(PROJECT_ROOT, 'redis.conf')
/** Where `npm start` keeps the Redis it runs, and its URL (`url`) for `npm run user` to find. */
export const LOCAL_REDIS_DIR = join(PROJECT_ROOT, 'var', 'redis')

export interface LocalRedis {
  url: string
  port: number
  dir: string
  process: ChildProcess
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

export class RedisNotInstalledError extends Error {
  constructor () {
    super('redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis')
  }
}

export function redisServerInstalled (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Runs `redis-server` with the project's redis.conf on `port` with data in `dir`, and
 * resolves once it accepts connections (AOF loaded).
 */
export async function startRedis (options: { dir: string, port?: number, extraArgs?: string[], conf?: string }): Promise<LocalRedis> {
  if (!redisServerInstalled()) throw new RedisNotInstalledError()
  const port = options.port ?? await freePort()
  await mkdir(options.dir, { recursive: true })
  const child = spawn('redis-server', [options.conf ?? REDIS_CONF, '--port', String(port), '--dir', options.dir, ...(options.extraArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
    child.once('exit', code => reject(new Error(`redis-server exited with ${String(code)}: ${output.trim().split('\n').slice(-3).join(' | ')}`)))
    setTimeout(() => reject(new Error(`redis-server did not start in 15 s: ${output.slice(-300)}`)), 15_000).unref()
  })
  child.removeAllListeners('exit')
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>(resolve => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  }
  return { url: `redis://127.0.0.1:${port}`, port, dir: options.dir, process: child, stop }
}
