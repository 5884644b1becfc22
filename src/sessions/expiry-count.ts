import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

/*
 * How many sessions are live, without a per-session entry: one hash whose fields are
 * expiry minutes and whose values count the sessions expiring in that minute. A session
 * adds one to the minute it expires in, moves its one when it slides, and takes it back
 * when it is ended early; when Redis expires it, its minute has passed and no longer
 * counts. Counting sums the minutes still ahead (the current one included, so the count
 * may include sessions that expired earlier in this minute) and drops the passed ones.
 * A session's minute is read from its key's TTL, so a TTL changed from outside Gatehouse
 * skews the count until the minutes involved have passed (7 days at most).
 * The hash holds at most one field per minute of the sliding lifetime (about 10,000 for 7
 * days), whatever the number of sessions: the sorted set of every session digest it
 * replaces cost about 140 bytes a session. Single-key commands only (Cluster safe).
 */

/** Answers the sessions of this minute and later; deletes the fields of passed minutes. */
const COUNT_LIVE: LuaScript = {
  keys: ['count'],
  argv: ['minute'],
  lua: `
-- KEYS[1]  the count hash: field = expiry minute in base 36, value = sessions expiring then
-- ARGV[1]  the current minute (ms since the epoch / 60,000, whole)
local count = KEYS[1]
local now = tonumber(ARGV[1])
local fields = redis.call('HGETALL', count)
local live = 0
for i = 1, #fields, 2 do
  local n = tonumber(fields[i + 1])
  -- A minute below zero is kept: it corrects another (a session whose TTL was changed
  -- from outside moves its one from a minute it was not counted in).
  if tonumber(fields[i], 36) < now or n == 0 then
    redis.call('HDEL', count, fields[i])
  else
    live = live + n
  end
end
return live
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseCountLiveSessions: (key: string, minute: number) => Promise<number>
  }
}

const minuteOf = (ms: number): number => Math.floor(ms / 60_000)
const field = (ms: number): string => minuteOf(ms).toString(36)

export class ExpiryCount {
  readonly #redis: RedisClient
  readonly key: string

  constructor (redis: RedisClient, key: string) {
    this.#redis = redis
    this.key = key
    defineScripts(redis, { gatehouseCountLiveSessions: COUNT_LIVE })
  }

  /** A session now expiring at `expiresAt` (ms). */
  async add (expiresAt: number): Promise<void> {
    await this.#redis.hincrby(this.key, field(expiresAt), 1)
  }

  /** A session whose expiry moved from `from` to `to` (ms). */
  async move (from: number, to: number): Promise<void> {
    if (field(from) === field(to)) return
    await Promise.all([this.#redis.hincrby(this.key, field(from), -1), this.#redis.hincrby(this.key, field(to), 1)])
  }

  /** Sessions ended before their expiry `expiresAt` (ms). */
  async remove (expiresAt: number[]): Promise<void> {
    await Promise.all(expiresAt.map(async at => await this.#redis.hincrby(this.key, field(at), -1)))
  }

  /** Sessions not yet expired (to within the current minute); prunes passed minutes. */
  async live (now: number): Promise<number> {
    return await this.#redis.gatehouseCountLiveSessions(this.key, minuteOf(now))
  }
}
