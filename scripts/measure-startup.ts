/*
 * Start-up time and memory of the server run through tsx (how `npm start` ran it before
 * the build) and as built JavaScript (`node dist/src/server.js`, how it runs now), in the
 * same run, rounds interleaved, against one Redis. Linux only (/proc).
 *   npm run build && npx tsx scripts/measure-startup.ts [rounds]
 * Start-up: from spawning the process to the first 200 from /health/live. Memory: the
 * resident set of the whole process tree (tsx's CLI runs the server in a child process,
 * esbuild runs as one), once ready and again after the demo page, its script, the
 * OpenAPI document and 200 GET /api/auth/me.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, PROJECT_ROOT, startRedis } from '../src/redis/local-server.js'

const rounds = Number(process.argv[2] ?? 5)

const MODES = {
  'tsx src/server.ts (before)': [join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), 'src/server.ts'],
  'node dist/src/server.js (after)': [process.execPath, 'dist/src/server.js']
} as const
type Mode = keyof typeof MODES

function treeRssKiB (pid: number): number {
  let kib = 0
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    kib += Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0)
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) kib += treeRssKiB(Number(task))
  } catch {}
  return kib
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolve => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

async function measure (mode: Mode, redisUrl: string): Promise<{ startMs: number, rssReadyMiB: number, rssWarmMiB: number }> {
  const port = await freePort()
  const [cmd, script] = MODES[mode]
  const began = performance.now()
  const child = spawn(cmd, [script], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), REDIS_URL: redisUrl, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const base = `http://127.0.0.1:${port}`
  let startMs = 0
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${mode} exited with ${child.exitCode}`)
    try {
      if ((await fetch(`${base}/health/live`)).ok) {
        startMs = performance.now() - began
        break
      }
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  const rssReadyMiB = treeRssKiB(child.pid!) / 1024
  for (const path of ['/', '/app.js', '/app.css', '/openapi.json']) await (await fetch(base + path)).text()
  for (let i = 0; i < 200; i++) await (await fetch(`${base}/api/auth/me`)).text()
  await new Promise(resolve => setTimeout(resolve, 300))
  const rssWarmMiB = treeRssKiB(child.pid!) / 1024
  await stop(child)
  return { startMs, rssReadyMiB, rssWarmMiB }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

if (!existsSync(join(PROJECT_ROOT, 'dist', 'src', 'server.js'))) throw new Error('run npm run build first')
const dir = await mkdtemp(join(tmpdir(), 'gatehouse-startup-'))
const redis = await startRedis({ dir })
const results: Record<string, Array<Awaited<ReturnType<typeof measure>>>> = {}
try {
  for (let r = 0; r < rounds; r++) {
    for (const mode of Object.keys(MODES) as Mode[]) (results[mode] ??= []).push(await measure(mode, redis.url))
  }
} finally {
  await redis.stop()
  await rm(dir, { recursive: true, force: true })
}
console.log(`Node ${process.version}, ${rounds} rounds interleaved, medians (min-max)`)
console.log('| how it runs | start-up to first 200 | RSS when ready | RSS after requests |')
console.log('| --- | --- | --- | --- |')
for (const [mode, rs] of Object.entries(results)) {
  const cell = (xs: number[], unit: string, digits: number): string => `${median(xs).toFixed(digits)} ${unit} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`
  console.log(`| ${mode} | ${cell(rs.map(r => r.startMs), 'ms', 0)} | ${cell(rs.map(r => r.rssReadyMiB), 'MiB', 1)} | ${cell(rs.map(r => r.rssWarmMiB), 'MiB', 1)} |`)
}
