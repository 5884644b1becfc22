import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { requireTool, startApiServer } from '../helper.js'

/*
 * The README's curl walk-through, run as written with real curl against a real server.
 * A block runs when `<!-- example: run -->` precedes its ```sh fence; under its command it
 * states what comes back: `# HTTP/1.1 <status> ...`, optionally `# set-cookie: name=<...>;
 * <attributes>` and `# {json}`, whose keys and non-volatile values must match.
 */

const MARKER = /<!--\s*example:\s*run\s*-->\s*\n```sh\n([\s\S]*?)\n```/g
const VOLATILE = new Set(['id', 'createdAt', 'updatedAt', 'expiresAt', 'csrfToken'])

interface Block { file: string, code: string }

async function runnableBlocks (): Promise<Block[]> {
  const fromFile = async (file: string): Promise<Block[]> =>
    [...(await readFile(file, 'utf8')).matchAll(MARKER)].map(m => ({ file, code: m[1] }))
  const readme = join(PROJECT_ROOT, 'README.md')
  const own = existsSync(readme) ? await fromFile(readme) : []
  if (own.length > 0) return own
  const dir = join(PROJECT_ROOT, 'docs', 'readme')
  const files = (await readdir(dir)).filter(f => f.endsWith('.md')).sort()
  return (await Promise.all(files.map(f => fromFile(join(dir, f))))).flat()
}

/** The JSON compared: keys everywhere, values except the ones that differ on every run. */
function comparable (v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map(x => comparable(x))
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, comparable(x, k)]))
  }
  return VOLATILE.has(key) ? `<${v === null ? 'null' : typeof v}>` : v
}

async function bash (script: string, cwd: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { PATH: process.env.PATH, HOME: cwd, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

t.test('the README curl walk-through answers as documented', async t => {
  for (const tool of ['bash', 'curl'] as const) requireTool(tool)
  const blocks = await runnableBlocks()
  const all = blocks.map(b => b.code).join('\n')
  for (const step of ['/register', '/verify-email', '/login', '/me', '/logout', 'cookies.txt', 'var/outbox']) {
    t.match(all, step, `the walk-through covers ${step}`)
  }

  const api = await startApiServer(t)
  const cwd = await mkdtemp(join(tmpdir(), 'gatehouse-readme-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })

  // The documented defaults become this test's server and outbox; nothing else changes.
  const localize = (code: string): string => code
    .replaceAll('http://localhost:3000', `http://127.0.0.1:${api.port}`)
    .replaceAll('var/outbox', api.outbox)
  // Mail may be written just after the HTTP answer; a reader is slower than that, a
  // script is not, so a block that reads the outbox first waits for a mail to be there.
  const waitForMail = `for i in $(seq 200); do ls ${api.outbox}/*.eml >/dev/null 2>&1 && break; sleep 0.05; done`
  const script = ['set -euo pipefail', ...blocks.map((b, i) =>
    `${b.code.includes('var/outbox') ? waitForMail + '\n' : ''}${localize(b.code)}\nprintf '\\n@@end of block ${i}@@\\n'`)].join('\n')
  const run = await bash(script, cwd)
  t.equal(run.code, 0, `the blocks run without error${run.stderr === '' ? '' : `: ${run.stderr}`}`)
  const outputs = run.stdout.split(/\n@@end of block \d+@@\n/)
  t.equal(outputs.length, blocks.length + 1, 'every block ran')

  let checked = 0
  blocks.forEach((block, i) => {
    const out = outputs[i] ?? ''
    const expected = block.code.split('\n').filter(l => l.startsWith('# '))
    const expectStatus = expected.find(l => l.startsWith('# HTTP/'))
    if (expectStatus === undefined) {
      t.notMatch(block.code, /\bcurl\b/, `block ${i} of ${block.file} states the answer of its curl`)
      return
    }
    checked++
    const where = `block ${i} (${block.code.match(/\$BASE(\/[\w/-]+)/)?.[1] ?? ''})`
    const [head, ...rest] = out.replace(/^\n+/, '').split(/\r?\n\r?\n/)
    const body = rest.join('\n\n').trim()
    t.equal(head.match(/^HTTP\/[\d.]+ (\d{3})/)?.[1], expectStatus.match(/^# HTTP\/[\d.]+ (\d{3})/)?.[1], `${where} answers ${expectStatus.slice(2)}`)

    const cookieLine = expected.find(l => /^# set-cookie:/i.test(l))
    if (cookieLine !== undefined) {
      const want = cookieLine.replace(/^# set-cookie:\s*/i, '')
      const name = want.split('=')[0]
      const got = head.split(/\r?\n/).find(l => l.toLowerCase().startsWith(`set-cookie: ${name.toLowerCase()}=`))
      t.ok(got, `${where} sets ${name}`)
      t.equal(got?.replace(/^set-cookie:\s*/i, '').split(';').slice(1).join(';').trim(), want.split(';').slice(1).join(';').trim(), `${where}: the cookie attributes are as documented`)
    }

    const jsonLine = expected.find(l => l.startsWith('# {'))
    if (jsonLine !== undefined) {
      let actual: unknown
      try { actual = JSON.parse(body) } catch { actual = body }
      t.same(comparable(actual), comparable(JSON.parse(jsonLine.slice(2))), `${where}: the body is as documented`)
    } else {
      t.equal(body, '', `${where}: no body, as documented`)
    }
  })
  t.ok(checked >= 6, `${checked} documented answers checked`)
  t.ok(existsSync(join(cwd, 'cookies.txt')), 'curl kept its cookie jar')
})
