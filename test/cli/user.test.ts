import t from 'tap'
import { spawnSync } from 'node:child_process'
import { Cluster, Redis } from 'ioredis'
import { build, cookieOf, PASSWORD } from '../helper.js'
import { loadConfig } from '../../src/config.js'
import { openApp, run } from '../../src/cli/user.js'
import { UserRepository } from '../../src/accounts/users.js'
import { PasswordHasher } from '../../src/accounts/passwords.js'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { redisAt, startCluster, startSentinel, tempDir } from '../helper.js'

t.test('npm run user adds, lists, disables and enables accounts', async t => {
  const ctx = await build(t)
  const lines: string[] = []
  const out = (l: string): void => { lines.push(l) }

  t.equal(await run(['add', 'Ops@Example.com', '--password', 'operator password 1', '--admin', '--username', 'ops'], ctx.app, out), 0)
  const users = new UserRepository(ctx.redis, 'gh:')
  const user = await users.findByEmail('ops@example.com')
  t.ok(user)
  t.equal(user!.role, 'admin')
  t.equal(user!.emailVerified, true, 'created verified')
  t.ok(await new PasswordHasher().verify(user!.passwordHash, 'operator password 1'))
  t.notMatch(lines.join('\n'), /operator password 1|argon2/, 'neither password nor hash printed')

  lines.length = 0
  t.equal(await run(['add', 'gen@example.com'], ctx.app, out), 0)
  t.match(lines.at(-1), /^password: \S{16,}$/, 'a generated password is shown once')

  t.equal(await run(['add', 'ops@example.com', '--password', 'operator password 1'], ctx.app, out), 1, 'duplicate refused')
  lines.length = 0
  t.equal(await run(['list'], ctx.app, out), 0)
  t.equal(lines.length, 2)
  t.match(lines[0], /ops@example\.com\tops\tadmin\tverified\tactive/)

  // A cookie session and a token family: disabling ends both.
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'ops@example.com', password: 'operator password 1' } })
  t.equal(login.statusCode, 200)
  const cookie = cookieOf(login) as string
  const token = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: 'ops@example.com', password: 'operator password 1' } })
  t.equal(token.statusCode, 200)
  t.equal(await run(['disable', 'ops@example.com'], ctx.app, out), 0)
  t.match(lines.at(-1), /2 session\(s\) ended, token families included/)
  t.equal((await users.findByEmail('ops@example.com'))!.disabled, true)
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 401, 'the cookie session ended')
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${token.json().accessToken as string}` } })).statusCode, 401, 'the token family ended')
  t.equal(await run(['enable', 'ops@example.com'], ctx.app, out), 0)
  t.equal((await users.findByEmail('ops@example.com'))!.disabled, false)
  t.equal(await run(['frobnicate'], ctx.app, out), 2)
})

t.test('npm run user role makes an account an admin and back', async t => {
  const ctx = await build(t)
  const lines: string[] = []
  const out = (l: string): void => { lines.push(l) }
  t.equal(await run(['add', 'first@example.com', '--password', PASSWORD], ctx.app, out), 0)
  t.equal(await run(['role', 'First@Example.com', 'admin'], ctx.app, out), 0)
  t.equal(lines.at(-1), 'first@example.com is now an admin')
  t.equal((await ctx.app.users.findByEmail('first@example.com'))!.role, 'admin')
  t.equal(await run(['role', 'first@example.com', 'user'], ctx.app, out), 0)
  t.equal((await ctx.app.users.findByEmail('first@example.com'))!.role, 'user')
  t.equal(await run(['role', 'first@example.com', 'root'], ctx.app, out), 2, 'an unknown role is a usage error')
  t.equal(await run(['role', 'nobody@example.com', 'admin'], ctx.app, out), 1)
  t.equal(lines.at(-1), 'error: no such user')
})

t.test('openApp refuses to run a command while Redis cannot be reached', async t => {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_URL: 'redis://127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: '200' })
  await t.rejects(openApp(config), /Redis cannot be reached/)
})

t.test('npm run user with only REDIS_SENTINELS set uses the master the sentinel names', async t => {
  const master = await redisAt(t, await tempDir(t, 'master'), undefined, [], true)
  const sentinel = await startSentinel(t, master.port, 'gh')
  // The command as an operator runs it: a process whose environment names only Sentinel.
  const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, ...inherited } = process.env
  const env = { ...inherited, NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_NAME: 'gh' }
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/user.ts', 'add', 'sentinel@example.com', '--password', PASSWORD], { cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 60_000 })
  t.equal(cli.status, 0, cli.stderr)
  t.match(cli.stdout, /"email":"sentinel@example\.com"/)
  const probe = new Redis(master.url)
  t.teardown(() => probe.disconnect())
  t.ok(await new UserRepository(probe, 'gh:').findByEmail('sentinel@example.com'), 'the account is on the master, not in a local Redis')

  const server = await openApp(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_NAME: 'gh' }))
  t.teardown(async () => await server.close())
  t.equal((server.redis as Redis).stream.remotePort, master.port, 'openApp connects through the sentinel')
  const lines: string[] = []
  t.equal(await run(['disable', 'sentinel@example.com'], server, l => lines.push(l)), 0)
  t.equal((await new UserRepository(probe, 'gh:').findByEmail('sentinel@example.com'))!.disabled, true)
})

t.test('npm run user works on a Redis Cluster, ending sessions whose keys live on other nodes', async t => {
  const cluster = await startCluster(t)
  const outbox = await tempDir(t, 'outbox')
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_CLUSTER_NODES: cluster.spec, MAIL_OUTBOX_DIR: outbox })
  const server = await openApp(config)
  t.teardown(async () => await server.close())
  t.ok(server.redis instanceof Cluster, 'the command talks to the cluster')
  const lines: string[] = []
  const out = (l: string): void => { lines.push(l) }
  t.equal(await run(['add', 'cluster@example.com', '--password', PASSWORD], server, out), 0)
  const cookies: string[] = []
  for (let i = 0; i < 3; i++) {
    const login = await server.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'cluster@example.com', password: PASSWORD } })
    t.equal(login.statusCode, 200)
    cookies.push(cookieOf(login) as string)
  }
  t.equal(await run(['disable', 'cluster@example.com'], server, out), 0)
  t.match(lines.at(-1), /3 session\(s\) ended/)
  for (const cookie of cookies) t.equal((await server.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 401)
  lines.length = 0
  t.equal(await run(['list'], server, out), 0)
  t.match(lines[0], /cluster@example\.com\t-\tuser\tverified\tdisabled/)
})
