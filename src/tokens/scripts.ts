import type { LuaScript } from '../redis/scripts.js'

/*
 * The Lua of the bearer token store (store.ts), registered once per client through
 * defineScripts (src/redis/scripts.ts). Token values are JSON: access `{u, f, e, t}` (user,
 * family, expiry ms, last touched ms), refresh `{u, f, x}` (user, family, spent 0/1).
 */

/*
 * Reads an access token and, at most once a step, records that it was used. The key is the
 * token's own (one key, any cluster slot); the caller then bumps the family's lastSeen.
 * Answers {value as read, 1 if touched else 0}, or nil.
 */
const ACCESS_READ = `
-- KEYS[1]  access token key: prefix .. 'at:' .. SHA-256 of the token
-- ARGV[1]  now, ms
-- ARGV[2]  touch step, ms
local key = KEYS[1]
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])

local v = redis.call('GET', key)
if not v then return false end
local s = cjson.decode(v)
if now - tonumber(s.t) >= step then
  s.t = now
  redis.call('SET', key, cjson.encode(s), 'KEEPTTL')
  return {v, 1}
end
return {v, 0}
`

/*
 * Spends a refresh token: Redis runs the script alone, so of two concurrent refreshes with
 * one token exactly one sees it live. The spent token is kept (until it would have expired)
 * so that presenting it again is recognised as reuse. Answers {'live'|'spent', value} or nil.
 */
const REFRESH_SPEND = `
-- KEYS[1]  refresh token key: prefix .. 'rt:' .. SHA-256 of the token
local key = KEYS[1]

local v = redis.call('GET', key)
if not v then return false end
local s = cjson.decode(v)
if tonumber(s.x) == 1 then return {'spent', v} end
s.x = 1
redis.call('SET', key, cjson.encode(s), 'KEEPTTL')
return {'live', v}
`

/*
 * Records newly minted tokens in their family. 'create' starts a family; 'rotate' only
 * succeeds while the family exists and the spent token is its current one, so a family
 * ended meanwhile is not brought back. Both keys carry the user's hash tag: one slot.
 * Answers 1, or 0 when a rotation was refused.
 */
const FAMILY_ATTACH = `
-- KEYS[1]   family hash: prefix .. 'user:{' .. userId .. '}:tf:' .. familyId
-- KEYS[2]   the user's family index: prefix .. 'user:{' .. userId .. '}:tokens'
-- ARGV[1]   mode: 'create' or 'rotate'
-- ARGV[2]   family id
-- ARGV[3]   now, ms
-- ARGV[4]   digest of the new access token
-- ARGV[5]   its expiry, ms
-- ARGV[6]   digest of the new refresh token
-- ARGV[7]   its expiry, ms
-- ARGV[8]   client ip ('create' only)
-- ARGV[9]   client user agent ('create' only)
-- ARGV[10]  digest of the refresh token just spent ('rotate' only)
-- ARGV[11]  how the login signed in ('create' only; absent or '' for a password)
local family, index = KEYS[1], KEYS[2]
local mode, fid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local accessDigest, accessExp = ARGV[4], ARGV[5]
local refreshDigest, refreshExp = ARGV[6], tonumber(ARGV[7])
local ip, ua, spentDigest = ARGV[8], ARGV[9], ARGV[10]

if mode == 'create' then
  redis.call('HSET', family, 'c', now, 'l', now, 'ip', ip, 'ua', ua)
  if ARGV[11] and ARGV[11] ~= '' then redis.call('HSET', family, 'm', ARGV[11]) end
else
  if redis.call('HGET', family, 'rt') ~= spentDigest then return 0 end
  redis.call('HSET', family, 'l', now)
  local h = redis.call('HGETALL', family)
  for i = 1, #h, 2 do
    if string.sub(h[i], 1, 2) == 'a:' and tonumber(h[i + 1]) <= now then redis.call('HDEL', family, h[i]) end
  end
end
redis.call('HSET', family, 'rt', refreshDigest, 'e', refreshExp, 'a:' .. accessDigest, accessExp)
redis.call('PEXPIREAT', family, refreshExp)
redis.call('ZADD', index, refreshExp, fid)
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', index, last[2])
return 1
`

/*
 * Ends a family. Answers the digests of its live tokens ('a' or 'r' then the digest) for
 * the caller to delete: token keys live in other cluster slots than the family.
 */
const FAMILY_END = `
-- KEYS[1]  family hash
-- KEYS[2]  the user's family index
-- ARGV[1]  family id
local family, index, fid = KEYS[1], KEYS[2], ARGV[1]

local h = redis.call('HGETALL', family)
redis.call('DEL', family)
redis.call('ZREM', index, fid)
local out = {}
for i = 1, #h, 2 do
  if string.sub(h[i], 1, 2) == 'a:' then out[#out + 1] = 'a' .. string.sub(h[i], 3) end
  if h[i] == 'rt' then out[#out + 1] = 'r' .. h[i + 1] end
end
return out
`

/* Bumps lastSeen, but never re-creates a family that was ended. */
/*
 * Records the credential version a family was kept under by a credential change made with
 * it (see User.credVersion), only while the family lives. Answers 1 when recorded.
 */
const FAMILY_SET_CV = `
-- KEYS[1]  family hash: prefix .. 'user:{' .. userId .. '}:tf:' .. familyId
-- ARGV[1]  the user's credential version
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cv', ARGV[1])
return 1
`

const FAMILY_TOUCH = `
-- KEYS[1]  family hash
-- ARGV[1]  now, ms
local family, now = KEYS[1], ARGV[1]

if redis.call('EXISTS', family) == 1 then redis.call('HSET', family, 'l', now) end
return 1
`

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseAccessRead: (key: string, now: number, step: number) => Promise<[string, number] | null>
    gatehouseRefreshSpend: (key: string) => Promise<[string, string] | null>
    gatehouseFamilyAttach: (family: string, index: string, ...args: Array<string | number>) => Promise<number>
    gatehouseFamilyEnd: (family: string, index: string, familyId: string) => Promise<string[]>
    gatehouseFamilyTouch: (family: string, now: number) => Promise<number>
    gatehouseFamilySetCv: (family: string, cv: string) => Promise<number>
  }
}

/** For defineScripts (src/redis/scripts.ts). */
export const TOKEN_SCRIPTS: Record<string, LuaScript> = {
  gatehouseAccessRead: { keys: ['access'], argv: ['now', 'step'], lua: ACCESS_READ },
  gatehouseRefreshSpend: { keys: ['refresh'], argv: [], lua: REFRESH_SPEND },
  gatehouseFamilyAttach: { keys: ['family', 'index'], argv: ['mode', 'familyId', 'now', 'accessDigest', 'accessExpiry', 'refreshDigest', 'refreshExpiry', 'ip', 'userAgent', 'spentRefreshDigest', 'method'], lua: FAMILY_ATTACH },
  gatehouseFamilyEnd: { keys: ['family', 'index'], argv: ['familyId'], lua: FAMILY_END },
  gatehouseFamilyTouch: { keys: ['family'], argv: ['now'], lua: FAMILY_TOUCH },
  gatehouseFamilySetCv: { keys: ['family'], argv: ['cv'], lua: FAMILY_SET_CV }
}
