// The build: TypeScript to dist/ with tsc, then the demo page's bundle to dist/public/app.js.
//   node scripts/build.mjs              (npm run build) always builds
//   node scripts/build.mjs --if-stale   (before npm start and the CLI scripts) builds only
//                                       when dist/ is missing or older than a source
// Plain JavaScript on purpose: it has to run before anything is compiled, and without tsx.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const stamp = join(dist, '.build-stamp')
const lock = join(root, '.build-lock')
// client/src: the demo page bundles the typed client.
const SOURCES = ['src', 'plugins', 'routes', 'public', 'client/src', 'package.json', 'tsconfig.json', 'tsconfig.build.json']

/** The newest modification time under `path` (a file or a folder). */
function newest (path) {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), st.mtimeMs)
}

function stale () {
  if (!existsSync(stamp)) return true
  const built = statSync(stamp).mtimeMs
  return SOURCES.some(s => newest(join(root, s)) > built)
}

function sleep (ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Two commands started together (npm start and npm run user) must not both write dist/:
 * the first takes the lock and builds, the second waits and finds the build fresh. A lock
 * older than five minutes is from a build that died, and is taken over.
 */
async function withLock (fn) {
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true })
      sleep(200)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

async function build () {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    process.stderr.write('dist/ is missing or older than the sources, and TypeScript is not installed to build it:\n' +
      'build where the devDependencies are (npm ci && npm run build), then install with --omit=dev\n')
    process.exit(1)
  }
  process.stderr.write('building dist/ (tsc -p tsconfig.build.json)\n')
  // From scratch, so a source that was deleted leaves no module behind.
  rmSync(dist, { recursive: true, force: true })
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
  const { buildDemoScript, BUNDLED_SCRIPT } = await import(pathToFileURL(join(dist, 'src', 'http', 'demo-page.js')).href)
  mkdirSync(dirname(BUNDLED_SCRIPT), { recursive: true })
  writeFileSync(BUNDLED_SCRIPT, await buildDemoScript())
  writeFileSync(stamp, `${new Date().toISOString()}\n`)
}

const ifStale = process.argv.includes('--if-stale')
if (!ifStale || stale()) {
  await withLock(async () => {
    // Checked again under the lock: another command may have just built it.
    if (!ifStale || stale()) await build()
  })
}
