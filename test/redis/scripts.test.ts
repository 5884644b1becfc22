import t from 'tap'
import { Redis } from 'ioredis'
import { defineScripts, type LuaScript } from '../../src/redis/scripts.js'
import { TOKEN_SCRIPTS } from '../../src/tokens/scripts.js'
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

/**
 * The inputs of a script that are not bound to a local of their own name: each KEYS[i] and
 * ARGV[i] must appear as `local <name> = KEYS[i]` (or in a multiple assignment, or wrapped
 * in tonumber), `<name>` being keys[i - 1] or argv[i - 1].
 */
function misnamedInputs (script: LuaScript): string[] {
  const bound = new Map<string, string>()
  for (const m of script.lua.matchAll(/^local ([\w, ]+?) = (.+)$/gm)) {
    const names = m[1].split(',').map(x => x.trim())
    const exprs = m[2].split(/,(?![^(]*\))/).map(x => x.trim())
    names.forEach((name, i) => {
      const input = /^(?:tonumber\()?((?:KEYS|ARGV)\[\d+\])\)?$/.exec(exprs[i] ?? '')?.[1]
      if (input !== undefined) bound.set(input, name)
    })
  }
  const wrong: string[] = []
  script.keys.forEach((name, i) => { if (bound.get(`KEYS[${i + 1}]`) !== name) wrong.push(`KEYS[${i + 1}] is ${bound.get(`KEYS[${i + 1}]`) ?? 'unbound'}, not ${name}`) })
  script.argv.forEach((name, i) => { if (!name.startsWith('...') && bound.get(`ARGV[${i + 1}]`) !== name) wrong.push(`ARGV[${i + 1}] is ${bound.get(`ARGV[${i + 1}]`) ?? 'unbound'}, not ${name}`) })
  return wrong
}

t.test('the bearer token scripts bind each input to a local named as in their declaration', async t => {
  t.same(misnamedInputs(SWAP), [], 'the checker accepts the model script')
  t.not(misnamedInputs({ ...SWAP, argv: ['other'] }).length, 0, 'and notices a name that differs')
  for (const [name, script] of Object.entries(TOKEN_SCRIPTS)) t.same(misnamedInputs(script), [], name)
})
