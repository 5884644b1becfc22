import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { REDIS_CONF } from '../../src/redis/local-server.js'
import { redisAt, redisCli, startSentinel, tempDir, until, build, cookieOf, PASSWORD, signedInUser, uniqueEmail } from '../helper.js'

t.test('with Sentinel the server follows a failover to the promoted replica, sessions included', async t => {
  const master = await redisAt(t, await tempDir(t, 'master'), undefined, [], true)
  const replica = await redisAt(t, await tempDir(t, 'replica'), undefined, ['--replicaof', '127.0.0.1', String(master.port)], true)
  await until('replica in sync', async () => redisCli(['-p', String(master.port), 'INFO', 'replication']).includes('connected_slaves:1'))

  const { port: sentinelPort, ask } = await startSentinel(t, master.port, 'gh')
  await until('the sentinel knows the replica', async () => ask('SENTINEL', 'REPLICAS', 'gh').includes(String(replica.port)))

  const ctx = await build(t, { REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'gh' })
  const server = ctx.app
  const { email, cookie } = await signedInUser(ctx, uniqueEmail('sentinel'))
  t.equal((await server.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 200)
  t.equal((server.redis as Redis).stream.remotePort, master.port, 'connected to the master the sentinel named')

  // Replication is asynchronous: wait until the replica has every write, then fail over.
  t.equal(redisCli(['-p', String(master.port), 'WAIT', '1', '5000']).trim(), '1')
  ask('SENTINEL', 'FAILOVER', 'gh')
  await until('the replica is promoted', async () => ask('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'gh').includes(String(replica.port)))
  await until('the server follows', async () => (server.redis as Redis).stream?.remotePort === replica.port && (await server.inject({ url: '/health/ready' })).statusCode === 200)

  t.equal((await server.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 200, 'the session is served by the new master')
  const again = await server.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
  t.equal(again.statusCode, 200, 'a login (writes) works on the new master')
  const promoted = new Redis(replica.url)
  t.teardown(() => promoted.disconnect())
  t.equal((await promoted.info('replication')).includes('role:master'), true)
  t.equal(await promoted.exists(server.sessionStore.keyOf(decodeURIComponent((cookieOf(again) as string).split('=')[1]).split('.')[0])), 1, 'the new session is on the promoted replica')
  // Sentinel rewrote the config files of the instances (CONFIG REWRITE): copies, never the project's.
  t.equal(readFileSync(REDIS_CONF, 'utf8').includes('CONFIG REWRITE'), false, 'the project redis.conf is untouched')
  t.match(readFileSync(join(replica.dir, 'redis.conf'), 'utf8'), /CONFIG REWRITE/, 'the promoted instance had its own copy rewritten')
})
