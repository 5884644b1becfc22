import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

/*
 * The per-user session index, kept inside the user's own hash as one field, `sessions`:
 * fixed-width entries of the session digest (20 characters) and its absolute expiry (ms
 * since the epoch, base 36, 8 characters), oldest first. One field of the hash that exists
 * anyway costs 28 bytes a session; the sorted set per user it replaces cost a key of its own
 * (about 90 bytes a session at two sessions a user). The user's hash tag keeps it in the
 * user's Cluster slot; the session keys live elsewhere, so on a Cluster every script here
 * touches the user's hash only (on a single Redis the add script also looks at session
 * keys). Listing and ending a user's sessions cost O(sessions of that user), which the
 * per-user maximum bounds.
 */
const DIGEST = 20
const ENTRY = 28

/**
 * Adds a session (or keeps it in place when it is saved again), drops entries past their
 * absolute expiry, and answers which of the oldest entries are over the maximum. They stay
 * in the index until the caller has deleted their keys and removes them (`remove`): a crash
 * in between leaves an entry that a later listing prunes, never a live session no index
 * knows of. A user whose hash is gone (deleted while a session was being saved) gets no
 * index: writing the field would recreate the hash with only this field and no TTL, a key
 * nothing would ever remove. The caller hears of it and deletes the session instead.
 */
const ADD: LuaScript = {
  keys: ['user'],
  argv: ['digest', 'absoluteExpiresAt', 'now', 'max', 'sessionKeyPrefix'],
  lua: `
-- KEYS[1]  the user's hash; the index is its field 'sessions'
-- ARGV[1]  the session's digest (20 characters)
-- ARGV[2]  its absolute expiry, ms since the epoch in base 36 (8 characters)
-- ARGV[3]  now, ms since the epoch
-- ARGV[4]  the most sessions a user may have
-- ARGV[5]  single Redis only: the prefix of session keys, to drop the entries whose session
--          has ended (idle expiry, deleted); '' on a Cluster, where those keys live elsewhere
local user = KEYS[1]
local digest = ARGV[1]
local abs = ARGV[2]
local now = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local sessionKey = ARGV[5]
if redis.call('EXISTS', user) == 0 then return {-1, {}} end
local v = redis.call('HGET', user, 'sessions') or ''
local kept = {}
local found = false
for i = 1, #v, 28 do
  local e = string.sub(v, i, i + 27)
  local d = string.sub(e, 1, 20)
  if d == digest then
    found = true
    kept[#kept + 1] = e
  elseif tonumber(string.sub(e, 21, 28), 36) > now and (sessionKey == '' or redis.call('EXISTS', sessionKey .. d) == 1) then
    kept[#kept + 1] = e
  end
end
if not found then kept[#kept + 1] = digest .. abs end
redis.call('HSET', user, 'sessions', table.concat(kept))
local over = {}
for i = 1, #kept - max do over[#over + 1] = string.sub(kept[i], 1, 20) end
if found then return {0, over} end
return {1, over}
`
}

/** Drops the given digests and every entry past its absolute expiry; answers the digests left, oldest first. */
const PRUNE: LuaScript = {
  keys: ['user'],
  argv: ['now', '...digests'],
  lua: `
-- KEYS[1]  the user's hash; the index is its field 'sessions'
-- ARGV[1]  now, ms since the epoch
-- ARGV[2..] digests to drop
local user = KEYS[1]
local now = tonumber(ARGV[1])
local drop = {}
for i = 2, #ARGV do drop[ARGV[i]] = true end
local v = redis.call('HGET', user, 'sessions')
if not v then return {} end
local kept = {}
local digests = {}
for i = 1, #v, 28 do
  local e = string.sub(v, i, i + 27)
  local d = string.sub(e, 1, 20)
  if not drop[d] and tonumber(string.sub(e, 21, 28), 36) > now then
    kept[#kept + 1] = e
    digests[#digests + 1] = d
  end
end
if #kept == 0 then
  redis.call('HDEL', user, 'sessions')
elseif #kept * 28 ~= #v then
  redis.call('HSET', user, 'sessions', table.concat(kept))
end
return digests
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseSessionIndexAdd: (user: string, digest: string, absoluteExpiresAt: string, now: number, max: number, sessionKeyPrefix: string) => Promise<[-1 | 0 | 1, string[]]>
    gatehouseSessionIndexPrune: (user: string, now: number, ...digests: string[]) => Promise<string[]>
  }
}

/** What adding a session to its user's index found. */
export interface Added {
  /** the user's hash does not exist (the account was deleted): nothing was written */
  userGone: boolean
  /** false when the session was already indexed (saved again) */
  isNew: boolean
  /** the user's oldest sessions beyond the maximum, still indexed: end them, then `remove` them */
  over: string[]
}

export class SessionIndex {
  readonly #redis: RedisClient
  readonly #userKey: (userId: string) => string
  readonly #now: () => number
  readonly #max: number

  constructor (redis: RedisClient, userKey: (userId: string) => string, now: () => number, max: number) {
    this.#redis = redis
    this.#userKey = userKey
    this.#now = now
    this.#max = max
    defineScripts(redis, { gatehouseSessionIndexAdd: ADD, gatehouseSessionIndexPrune: PRUNE })
  }

  /** the most sessions a user may have */
  get max (): number { return this.#max }

  /**
   * Records a session of `userId` ending at `absoluteExpiresAt` at the latest, if the user
   * exists. With `sessionKeyPrefix` (single Redis only) it also drops the entries whose
   * session key is gone, in the same script.
   */
  async add (userId: string, d: string, absoluteExpiresAt: number, sessionKeyPrefix = ''): Promise<Added> {
    if (d.length !== DIGEST) throw new Error('a session digest has 20 characters')
    const abs = Math.ceil(absoluteExpiresAt).toString(36).padStart(ENTRY - DIGEST, '0')
    const r = await this.#redis.gatehouseSessionIndexAdd(this.#userKey(userId), d, abs, this.#now(), this.#max, sessionKeyPrefix)
    return { userGone: r[0] === -1, isNew: r[0] === 1, over: r[1] }
  }

  /** Forgets sessions of the user that have ended. */
  async remove (userId: string, digests: string[]): Promise<void> {
    if (digests.length > 0) await this.#redis.gatehouseSessionIndexPrune(this.#userKey(userId), this.#now(), ...digests)
  }

  /** The user's digests, oldest first, after dropping those past their absolute expiry. */
  async digests (userId: string): Promise<string[]> {
    return await this.#redis.gatehouseSessionIndexPrune(this.#userKey(userId), this.#now())
  }
}
