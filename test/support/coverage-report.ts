/*
 * `npm run coverage [-- text]`: the coverage of the last tap run, text-summary by default.
 * Run after tap, not as tap's own report, because of two things in between:
 * - tsx hands V8 source maps whose `sourcesContent` is `[null]`; v8-to-istanbul takes that
 *   null as the original source and counts each file as one covered statement, so every
 *   file reads 100%. Without the field it reads the source from disk and maps correctly.
 * - `tap report` closes with its own TAP plan and `# { total: 0 }` line, which would read
 *   as the suite's result to whatever parses the output (.ci/run does): only the report
 *   itself is passed on.
 */
import { spawnSync } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

type CoverageFile = { 'source-map-cache'?: Record<string, { data?: { sourcesContent?: unknown[] } | null }> }

const dir = join(process.cwd(), '.tap', 'coverage')
for (const name of (await readdir(dir).catch(() => [])).filter(f => f.endsWith('.json'))) {
  const file = join(dir, name)
  const data = JSON.parse(await readFile(file, 'utf8')) as CoverageFile
  let changed = false
  for (const entry of Object.values(data['source-map-cache'] ?? {})) {
    if (entry.data?.sourcesContent?.every(s => s === null) === true) {
      delete entry.data.sourcesContent
      changed = true
    }
  }
  if (changed) await writeFile(file, JSON.stringify(data))
}

const reporter = process.argv[2] ?? 'text-summary'
const run = spawnSync('npx', ['tap', 'report', reporter], { encoding: 'utf8' })
const report = run.stdout.split('\n').filter(line => !/^(# |TAP version|1\.\.0)/.test(line) && line.trim() !== '')
process.stdout.write(report.join('\n') + '\n')
process.exitCode = run.status ?? 1
