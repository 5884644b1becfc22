import t from 'tap'
import { Redis } from 'ioredis'
import { defineScripts, type LuaScript } from '../../src/redis/scripts.js'
import { startTestRedis } from '../helper.js'

const SWAP: LuaScript = {
  keys: ['key'],
  argv: ['value'],
  lua: `
-- the key to set
local key = KEYS[1]
-- its new value
local value = ARGV[1]
return redis.call('SET', key, value, 'GET')
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseTestSwap: (key: string, value: string) => Promise<string | null>
  }
}

t.test('a script is registered once per client and runs as EVALSHA with its named keys', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  const probe = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); probe.disconnect() })
  defineScripts(redis, { gatehouseTestSwap: SWAP })
  const first = redis.gatehouseTestSwap
  defineScripts(redis, { gatehouseTestSwap: { ...SWAP, lua: 'return 0' } })
  t.equal(redis.gatehouseTestSwap, first, 'a second store on the same client reuses the command')

  await probe.config('RESETSTAT')
  t.equal(await redis.gatehouseTestSwap('k', 'a'), null)
  t.equal(await redis.gatehouseTestSwap('k', 'b'), 'a')
  t.equal(await redis.gatehouseTestSwap('k', 'c'), 'b')
  const stats = await probe.info('commandstats')
  const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  t.equal(calls('eval'), 1, 'the script text goes out once per connection')
  t.equal(calls('evalsha'), 2, 'then only its SHA')
})
