import t from 'tap'
import { builtinModules } from 'node:module'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { ensureBuilt, startApiServer } from '../helper.js'

/*
 * What runs in production is the build: compiled JavaScript that needs only the declared
 * runtime dependencies, and the demo page bundled beforehand.
 */

interface Pkg { dependencies: Record<string, string>, devDependencies: Record<string, string>, scripts: Record<string, string>, engines: { node: string } }
const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as Pkg

async function filesUnder (dir: string, exts = ['.ts', '.js', '.mjs']): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name)
    if (entry.isFile() && exts.some(e => entry.name.endsWith(e)) && !path.includes('node_modules') && !path.includes(`${PROJECT_ROOT}/dist/`)) out.push(path)
  }
  return out
}

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`), or undefined for relative and built-in ones. */
function packageOf (specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0])) return undefined
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/** Static imports (`import ... from 'x'`, `export ... from 'x'`, `import 'x'`) and dynamic ones (`import('x')`). */
async function importsOf (files: string[]): Promise<{ statics: Map<string, string>, dynamics: Map<string, string> }> {
  const statics = new Map<string, string>()
  const dynamics = new Map<string, string>()
  for (const file of files) {
    const code = await readFile(file, 'utf8')
    for (const m of code.matchAll(/^\s*(?:import|export)\s[^'"`]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
      const name = packageOf(m[1] ?? m[2])
      if (name !== undefined && !statics.has(name)) statics.set(name, relative(PROJECT_ROOT, file))
    }
    for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const name = packageOf(m[1])
      if (name !== undefined && !dynamics.has(name)) dynamics.set(name, relative(PROJECT_ROOT, file))
    }
  }
  return { statics, dynamics }
}

t.test('the server\'s code imports only declared runtime dependencies, and every one of them', async t => {
  const server = await importsOf([...await filesUnder('src'), ...await filesUnder('plugins'), ...await filesUnder('routes')])
  for (const [name, file] of server.statics) t.ok(pkg.dependencies[name], `${name} (imported by ${file}) is in dependencies`)
  for (const name of Object.keys(pkg.dependencies)) t.ok(server.statics.has(name), `the dependency ${name} is imported by the server`)
  // Loaded only on paths the built server never takes (bundling under tsx): build tools.
  for (const [name, file] of server.dynamics) t.ok(pkg.devDependencies[name], `${name} (loaded on demand by ${file}) is a devDependency`)
  t.notOk(pkg.dependencies.tsx, 'tsx is not needed at run time')
  t.notOk(pkg.dependencies['@fastify/static'], 'no static-file plugin is declared')
})

t.test('every devDependency is used by the tests, the tools or the build, and every import elsewhere is declared', async t => {
  const dirs = ['test', 'bench', 'scripts', 'public', 'client']
  const files = (await Promise.all(dirs.map(async d => await filesUnder(d).catch(() => [])))).flat()
  files.push(join(PROJECT_ROOT, 'eslint.config.js'))
  const tools = await importsOf(files)
  const imported = new Set([...tools.statics.keys(), ...tools.dynamics.keys(), ...(await importsOf([...await filesUnder('src')])).dynamics.keys()])
  for (const [name, file] of tools.statics) t.ok(pkg.dependencies[name] ?? pkg.devDependencies[name], `${name} (imported by ${file}) is declared`)
  const scripts = Object.values(pkg.scripts).join(' ')
  const texts = (await Promise.all(files.map(async f => await readFile(f, 'utf8')))).join('\n')
  /** The commands a package installs in node_modules/.bin, which tests run by name. */
  const binsOf = async (name: string): Promise<string[]> => {
    const { bin } = JSON.parse(await readFile(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> }
    return bin === undefined ? [] : typeof bin === 'string' ? [name.split('/').pop() ?? name] : Object.keys(bin)
  }
  const configs = JSON.stringify(pkg) + await readFile(join(PROJECT_ROOT, 'scripts', 'build.mjs'), 'utf8')
  for (const name of Object.keys(pkg.devDependencies)) {
    const typesFor = name.startsWith('@types/') ? name.slice('@types/'.length).replace(/^(.*)__(.*)$/, '@$1/$2') : undefined
    const used = imported.has(name) ||
      (await binsOf(name)).some(b => texts.includes(`bin('${b}')`)) ||
      new RegExp(`(^|\\s)${name}(\\s|$)`).test(scripts) ||
      configs.includes(`'${name}/`) ||
      (typesFor !== undefined && (typesFor === 'node' || imported.has(typesFor) || pkg.dependencies[typesFor] !== undefined))
    t.ok(used, `the devDependency ${name} is used`)
  }
})

t.test('npm start runs the built JavaScript, building first when needed, with .env support, on Node 22 or newer', async t => {
  t.match(pkg.engines.node, /^>=22/, 'engines: Node 22 or newer')
  t.match(pkg.scripts.start, /^node --env-file-if-exists=\.env dist\/src\/server\.js$/)
  t.match(pkg.scripts.prestart, /scripts\/build\.mjs --if-stale/)
  t.match(pkg.scripts.dev, /^tsx watch --env-file-if-exists=\.env src\/server\.ts$/)
  for (const cli of ['user', 'outbox', 'mail:retry']) {
    t.match(pkg.scripts[cli], /^node --env-file-if-exists=\.env dist\//, `npm run ${cli} runs built JavaScript`)
    t.match(pkg.scripts[`pre${cli}`], /scripts\/build\.mjs --if-stale/, 'and builds first when needed')
  }
})

t.test('the built server serves the demo page from the bundle made at build time', async t => {
  await ensureBuilt()
  const bundle = await readFile(join(PROJECT_ROOT, 'dist', 'public', 'app.js'), 'utf8')
  t.ok(bundle.length > 1000, 'dist/public/app.js was bundled')
  const api = await startApiServer(t, { built: true })
  const script = await fetch(`${api.url}/app.js`)
  t.equal(script.status, 200)
  t.equal(await script.text(), bundle, '/app.js is that bundle')
  t.match(await (await fetch(`${api.url}/`)).text(), /<script[^>]+app\.js/, 'the page loads it')
})

t.test('a .env file in the working directory configures the server', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-dotenv-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, '.env'), '# as in .env.example\nMETRICS_TOKEN=token-from-the-dotenv-file\n')
  const api = await startApiServer(t, { built: true, nodeArgs: ['--env-file-if-exists=.env'], cwd: dir })
  t.equal((await fetch(`${api.url}/metrics`)).status, 401, 'METRICS_TOKEN from .env protects /metrics')
  t.equal((await fetch(`${api.url}/metrics`, { headers: { authorization: 'Bearer token-from-the-dotenv-file' } })).status, 200, 'and opens it')
})
