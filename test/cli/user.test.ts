import t from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { loadConfig } from '../../src/config.js'
import { run } from '../../src/cli/user.js'
import { UserRepository } from '../../src/accounts/users.js'
import { PasswordHasher } from '../../src/accounts/passwords.js'

t.test('npm run user adds, lists, disables and enables accounts', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const config = loadConfig({ REDIS_URL: server.url })
  const lines: string[] = []
  const out = (l: string): void => { lines.push(l) }

  t.equal(await run(['add', 'Ops@Example.com', '--password', 'operator password 1', '--admin', '--username', 'ops'], config, redis, out), 0)
  const users = new UserRepository(redis, 'gh:')
  const user = await users.findByEmail('ops@example.com')
  t.ok(user)
  t.equal(user!.role, 'admin')
  t.equal(user!.emailVerified, true, 'created verified')
  t.ok(await new PasswordHasher().verify(user!.passwordHash, 'operator password 1'))
  t.notMatch(lines.join('\n'), /operator password 1|argon2/, 'neither password nor hash printed')

  lines.length = 0
  t.equal(await run(['add', 'gen@example.com'], config, redis, out), 0)
  t.match(lines.at(-1), /^password: \S{16,}$/, 'a generated password is shown once')

  t.equal(await run(['add', 'ops@example.com', '--password', 'operator password 1'], config, redis, out), 1, 'duplicate refused')
  lines.length = 0
  t.equal(await run(['list'], config, redis, out), 0)
  t.equal(lines.length, 2)
  t.match(lines[0], /ops@example\.com\tops\tadmin\tverified\tactive/)

  await redis.set('gh:sess:x', JSON.stringify({ u: user!.id, c: 1, a: Date.now() + 60_000, l: 1, ip: '', ua: '' }), 'PX', 60_000)
  await redis.zadd(`gh:user:{${user!.id}}:sessions`, Date.now() + 60_000, 'x')
  t.equal(await run(['disable', 'ops@example.com'], config, redis, out), 0)
  t.match(lines.at(-1), /1 session\(s\) ended/)
  t.equal((await users.findByEmail('ops@example.com'))!.disabled, true)
  t.equal(await redis.exists('gh:sess:x'), 0)
  t.equal(await run(['enable', 'ops@example.com'], config, redis, out), 0)
  t.equal((await users.findByEmail('ops@example.com'))!.disabled, false)
  t.equal(await run(['frobnicate'], config, redis, out), 2)
})
