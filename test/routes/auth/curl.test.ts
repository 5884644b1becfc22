import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { build, listen, PASSWORD, registerUser, request, requireTool, signedInUser, verifyUser, uniqueEmail } from '../../helper.js'

const run = promisify(execFile)

t.test('a person with curl and a cookie jar signs in, reads /me and signs out over a real socket', async t => {
  requireTool('curl')
  const ctx = await build(t)
  const base = await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-curl-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const jar = join(dir, 'cookies.txt')
  const email = uniqueEmail('curl')
  await registerUser(ctx, email)
  await verifyUser(ctx, email)

  const curl = async (...args: string[]): Promise<{ status: number, body: string }> => {
    const { stdout } = await run('curl', ['-sS', '-c', jar, '-b', jar, '-w', '\n%{http_code}', ...args])
    const i = stdout.lastIndexOf('\n')
    return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) }
  }

  const login = await curl('-H', 'Content-Type: application/json', '-d', JSON.stringify({ email, password: PASSWORD }), `${base}/api/auth/login`)
  t.equal(login.status, 200)
  const stored = await readFile(jar, 'utf8')
  t.match(stored, /#HttpOnly_127\.0\.0\.1\tFALSE\t\/\tFALSE\t\d+\tsessionId\t/, 'curl stored an HttpOnly session cookie')

  const me = await curl(`${base}/api/auth/me`)
  t.equal(me.status, 200)
  t.equal(JSON.parse(me.body).user.email, email)

  // no Origin, no Sec-Fetch-Site: a non-browser client is not refused as cross-site
  const logout = await curl('-X', 'POST', `${base}/api/auth/logout`)
  t.equal(logout.status, 204)
  const after = await curl(`${base}/api/auth/me`)
  t.equal(after.status, 401)
  t.equal(JSON.parse(after.body).code, 'UNAUTHENTICATED')
})

t.test('concurrent requests over one cookie jar all see the session', async t => {
  const ctx = await build(t)
  const base = await listen(ctx.app)
  const { cookie } = await signedInUser({ url: base, outbox: ctx.outbox })
  const answers = await Promise.all(Array.from({ length: 50 }, async () => (await request(base, 'GET', '/api/auth/me', { cookie })).status))
  t.same(answers, Array(50).fill(200))
})
