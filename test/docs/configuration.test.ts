import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigSchema } from '../../src/config.js'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'

/*
 * The README has one configuration table, and .env.example one line per variable: both
 * list exactly the variables of the configuration schema, each once, with its default.
 */

const properties = ConfigSchema.properties as Record<string, { default?: unknown }>
const variables = Object.keys(properties).sort()

async function readmeTable (): Promise<Array<{ name: string, def: string }>> {
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Configuration\n')
  t.ok(start >= 0, 'the README has a Configuration section')
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  return [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]*) \|/gm)].map(m => ({ name: m[1], def: m[2].trim() }))
}

t.test('the README\'s configuration table lists every variable of the schema once, and nothing else', async t => {
  const rows = await readmeTable()
  const names = rows.map(r => r.name)
  t.same([...names].sort(), variables, 'the same variables')
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'none listed twice')
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  t.equal(readme.match(/^\| variable \| default \| meaning \|$/gm)?.length, 1, 'it is the only configuration table')
})

t.test('the table shows each schema default', async t => {
  for (const { name, def } of await readmeTable()) {
    const wanted = properties[name]?.default
    if (wanted === undefined) continue
    t.equal(def, wanted === '' ? 'empty' : `\`${String(wanted)}\``, `${name} defaults to ${JSON.stringify(wanted)}`)
  }
})

t.test('.env.example has one line per variable with its default, and nothing else', async t => {
  const lines = (await readFile(join(PROJECT_ROOT, '.env.example'), 'utf8')).split('\n')
  const entries = lines.map(l => l.match(/^#? ?([A-Z][A-Z0-9_]*)=(.*)$/)).filter(m => m !== null)
  const names = entries.map(m => m[1])
  t.same([...names].sort(), variables, 'the same variables')
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'none listed twice')
  for (const [, name, value] of entries) {
    const wanted = properties[name]?.default
    t.equal(value, wanted === undefined ? '' : String(wanted), `${name}=${value}`)
  }
})
