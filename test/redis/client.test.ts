import t from 'tap'
import { Redis } from 'ioredis'
import { loadConfig, parseHostPorts } from '../../src/config.js'
import { createRedis, isRedisUnavailable, redisOptions, sentinelOptions } from '../../src/redis/client.js'

t.test('the client fails fast and never replays a command', async t => {
  const o = redisOptions({ redisCommandTimeoutMs: 750 })
  t.equal(o.enableOfflineQueue, false, 'no offline queue: a command fails at once while disconnected')
  t.equal(o.commandTimeout, 750, 'REDIS_COMMAND_TIMEOUT_MS bounds a stalled Redis')
  t.equal(o.maxRetriesPerRequest, 0)
  t.equal(o.autoResendUnfulfilledCommands, false, 'commands in flight are not resent after a reconnect')
  t.ok(typeof o.retryStrategy === 'function' && typeof o.retryStrategy(1000) === 'number', 'reconnection never gives up')
  const reconnect = o.reconnectOnError as (err: Error) => boolean | 1 | 2
  t.equal(reconnect(new Error("READONLY You can't write against a read only replica.")), 1, 'READONLY (demoted master): reconnect without resending')
  t.equal(reconnect(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')), false)
})

t.test('REDIS_SENTINELS and REDIS_SENTINEL_NAME map to ioredis sentinel options', async t => {
  const config = loadConfig({ REDIS_SENTINELS: 'sentinel-a:26379,10.0.0.2:26380', REDIS_SENTINEL_NAME: 'gatehouse' })
  const o = sentinelOptions(config)
  t.same(o.sentinels, [{ host: 'sentinel-a', port: 26379 }, { host: '10.0.0.2', port: 26380 }])
  t.equal(o.name, 'gatehouse')
  t.equal(o.role, 'master', 'always the master: a replica cannot take writes')
  t.equal(o.enableOfflineQueue, false, 'the same fail-fast options as a single Redis')
  t.equal(o.autoResendUnfulfilledCommands, false)
  t.equal(o.password, undefined)

  const withUrl = sentinelOptions(loadConfig({ REDIS_SENTINELS: 's:26379', REDIS_URL: 'redis://app:s%40cret@ignored:1/2' }))
  t.equal(withUrl.name, 'mymaster', 'the default master name')
  t.equal(withUrl.username, 'app', 'credentials come from REDIS_URL')
  t.equal(withUrl.password, 's@cret')
  t.equal(withUrl.db, 2)

  const client = createRedis(config)
  t.teardown(() => client.disconnect())
  t.ok(client instanceof Redis, 'a Sentinel-backed Redis, not a Cluster')
  t.same((client as Redis).options.sentinels, o.sentinels)
  t.equal((client as Redis).status, 'wait', 'lazy: no connection until the plugin connects')
})

t.test('configuration rejects a malformed sentinel list', async t => {
  t.throws(() => loadConfig({ REDIS_SENTINELS: 'no-port' }), /REDIS_SENTINELS/)
  t.throws(() => loadConfig({ REDIS_SENTINELS: 'a:1,' }), /REDIS_SENTINELS/)
  t.throws(() => loadConfig({ REDIS_SENTINEL_NAME: 'bad name' }), /REDIS_SENTINEL_NAME/)
  t.same(parseHostPorts('h:1,[::1]:2'), [{ host: 'h', port: 1 }, { host: '[::1]', port: 2 }])
})

t.test('errors that mean "Redis cannot be reached" are told apart from command errors', async t => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  t.ok(isRedisUnavailable(refused))
  t.ok(isRedisUnavailable(new Error('Command timed out')))
  t.ok(isRedisUnavailable(new Error("Stream isn't writeable and enableOfflineQueue options is false")))
  t.ok(isRedisUnavailable(new Error("READONLY You can't write against a read only replica.")))
  t.ok(isRedisUnavailable(new Error('CLUSTERDOWN The cluster is down')))
  t.notOk(isRedisUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')))
  t.notOk(isRedisUnavailable(new Error('CROSSSLOT Keys in request don\'t hash to the same slot')), 'CROSSSLOT is a bug, not an outage')
})
