import type { RedisClient } from './client.js'

/**
 * A Lua script and the names of its inputs, in order: `keys[i]` is `KEYS[i + 1]`, `argv[i]`
 * is `ARGV[i + 1]` (a trailing `'...name'` stands for a variable tail). The Lua text opens
 * by binding each input to a local of the same name with a comment, as
 * @fastify/rate-limit's RedisStore does, so the script reads on its own.
 */
export interface LuaScript {
  readonly keys: readonly string[]
  readonly argv: readonly string[]
  readonly lua: string
}

/**
 * The one way Gatehouse runs Lua: each script becomes a command of `redis` (ioredis sends
 * its text once per connection, then only its SHA with EVALSHA), registered once per client
 * however many stores share it. Callers type the command by augmenting ioredis' RedisCommander
 * beside the script.
 */
export function defineScripts (redis: RedisClient, scripts: Record<string, LuaScript>): void {
  for (const [name, script] of Object.entries(scripts)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] === 'function') continue
    redis.defineCommand(name, { numberOfKeys: script.keys.length, lua: script.lua })
  }
}
