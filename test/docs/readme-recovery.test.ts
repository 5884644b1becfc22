import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { build, listen, requireTool } from '../helper.js'

t.test('the password-reset walk-through of the README runs as written: forgot through the outbox, reset, change', async t => {
  for (const tool of ['bash', 'curl', 'perl'] as const) requireTool(tool)
  const ctx = await build(t)
  const base = await listen(ctx.app)
  const doc = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const block = doc.match(/### Walk-through with curl[\s\S]*?```sh\n([\s\S]*?)```/)![1]
  // The same commands against this test's server, Redis and outbox, run from a scratch
  // directory (the cookie file lands there).
  const script = block
    .replaceAll('http://localhost:3000', base)
    .replaceAll('var/outbox', ctx.outbox)
    .replaceAll('npm run user --', `npm --prefix '${PROJECT_ROOT}' run -s user --`)
  const cwd = await mkdtemp(join(tmpdir(), 'gatehouse-walk-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  // Asynchronously: the server answering curl lives in this process.
  const run = await promisify(execFile)('bash', ['-e', '-c', script], { cwd, encoding: 'utf8', env: { ...process.env, REDIS_URL: ctx.server.url, LOG_LEVEL: 'silent' }, timeout: 90_000 })
  // Every "# ..." answer the document promises shows up, in order.
  const promised = [...block.matchAll(/^# (\{.*\}|Subject: .*)$/gm)].map(m => m[1].replace(/,\.\.\.,?/g, '\u0000'))
  let from = 0
  for (const line of promised) {
    const parts = line.split('\u0000')
    let at = from
    for (const part of parts) {
      const i = run.stdout.indexOf(part, at)
      t.ok(i >= 0, `output shows ${part}`)
      at = i + part.length
    }
    from = at
  }
  // The -w '%{http_code}\n' lines (a body without a newline may come right before one).
  const codes = [...run.stdout.matchAll(/(?:^|\})(\d{3})$/gm)].map(m => m[1])
  t.same(codes, ['200', '200', '200'], 'both logins and the final /me succeed')
  t.match(run.stdout, /"code":"UNAUTHENTICATED"/, 'the reset ended the old session')
})
