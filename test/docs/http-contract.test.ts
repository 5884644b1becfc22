import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ERRORS } from '../../src/http/errors.js'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { appRoutes } from '../helper.js'

/*
 * docs/http-contract.md is the contract clients are written against. Its route tables and
 * the routes the app registers must be the same set: a route missing from the document is
 * undocumented, and one missing from the app is a broken promise.
 */

const CONTRACT = join(PROJECT_ROOT, 'docs', 'http-contract.md')

/** `METHOD /path` in the first cell of each table row; `/prefix/*` stands for a subtree. */
function contractRoutes (markdown: string): string[] {
  const routes: string[] = []
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `')) continue
    const firstCell = line.split(' | ')[0]
    for (const m of firstCell.matchAll(/`(GET|POST|PUT|PATCH|DELETE|OPTIONS) (\*|\/[^`\s]*)`/g)) routes.push(`${m[1]} ${m[2]}`)
  }
  return routes
}

/** Whether `route` is `entry`, or lies in the subtree `entry` names with a trailing `/*`. */
function covers (entry: string, route: string): boolean {
  if (entry === route) return true
  if (!entry.endsWith('/*')) return false
  const [method, path] = entry.split(' ')
  const prefix = path.slice(0, -2)
  const [rMethod, rPath] = route.split(' ')
  return method === rMethod && (rPath === prefix || rPath.startsWith(`${prefix}/`))
}

t.test('every route of docs/http-contract.md exists in the app, and the app has no other', async t => {
  const documented = contractRoutes(await readFile(CONTRACT, 'utf8'))
  t.ok(documented.length >= 25, `${documented.length} routes read from the contract`)
  t.equal(new Set(documented).size, documented.length, 'no route is listed twice')
  const actual = (await appRoutes(t)).flatMap(route => [route.method].flat().map(method => `${method} ${route.url}`))
  const bare = (path: string): string => path.replace(/(.)\/$/, '$1')
  const gets = new Set(actual.filter(r => r.startsWith('GET ')).map(r => bare(r.slice(4))))
  // The contract says once that every GET also answers HEAD (Fastify's exposeHeadRoutes).
  const own = actual.filter(r => !(r.startsWith('HEAD ') && gets.has(bare(r.slice(5)))))

  for (const entry of documented) {
    t.ok(own.some(route => covers(entry, route)), `${entry} is served`)
  }
  for (const route of own) {
    t.ok(documented.some(entry => covers(entry, route)), `${route} is in the contract`)
  }
})

t.test('the contract lists every error code with the status it answers with, and no other', async t => {
  const markdown = await readFile(CONTRACT, 'utf8')
  const rows = [...markdown.matchAll(/^\s*\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map(m => [m[1], Number(m[2])] as const)
  t.same(Object.fromEntries(rows), Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.status])))
})

t.test('the contract parser reads the forms the document uses', async t => {
  t.same(contractRoutes('| `GET /health/live`, `GET /health/ready` | | 200 |\n| `OPTIONS *` | x |\n| not `GET /a` | |'), ['GET /health/live', 'GET /health/ready', 'OPTIONS *'])
  t.ok(covers('GET /docs/*', 'GET /docs'))
  t.ok(covers('GET /docs/*', 'GET /docs/static/*'))
  t.notOk(covers('GET /docs/*', 'GET /docsx'))
  t.notOk(covers('GET /docs/*', 'POST /docs/json'))
})
