import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EVENT_CATALOGUE, EVENT_TYPES } from '../../src/events/catalogue.js'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'

t.test('the README\'s event catalogue is the catalogue of src/events/catalogue.ts', async t => {
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Security events\n')
  t.ok(start >= 0, 'the README has a Security events section')
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  const rows = [...section.matchAll(/^\| `([a-z_.]+)` \|([^|]*)\|([^|]*)\|$/gm)]
  t.same(rows.map(r => r[1]), [...EVENT_TYPES], 'every type, in the catalogue\'s order')
  for (const [, type, data, meaning] of rows) {
    const entry = EVENT_CATALOGUE[type as keyof typeof EVENT_CATALOGUE]
    t.same([...data.matchAll(/`([A-Za-z]+)`/g)].map(m => m[1]), entry.data, `${type}: its data fields`)
    t.equal(meaning.trim(), entry.description, `${type}: its meaning`)
  }
})

t.test('no catalogued field is named like a secret or an address', async t => {
  for (const [type, { data }] of Object.entries(EVENT_CATALOGUE)) {
    for (const field of data) t.notMatch(field, /pass|token|code|cookie|hash|secret|email|otp/i, `${type}.${field}`)
  }
})
