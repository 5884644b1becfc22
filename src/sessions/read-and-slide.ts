import type { LuaScript } from '../redis/scripts.js'
import { USER_FIELDS } from '../accounts/users.js'

/*
 * The session read, as one Redis round trip: GET, the absolute-lifetime check and the
 * sliding refresh run in one script. The refresh is a SET with a new PX, at most once per
 * slide step, and it also records lastSeenAt, so "last seen" costs nothing extra.
 * The record layout is the one of record.ts.
 */
const READ_AND_SLIDE_BODY = `
-- KEYS[1]  session key: prefix .. 'sess:' .. SHA-256 of the session id
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  sliding idle lifetime, ms
-- ARGV[3]  slide step, ms: the expiry and "last seen" move at most once a step
-- ARGV[4]  absolute lifetime, ms: the session ends this long after its creation
local key = KEYS[1]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local step = tonumber(ARGV[3])
local absTtl = tonumber(ARGV[4])

local v = redis.call('GET', key)
if not v then return false end
-- userId|createdAt[~cv]|lastSeenAt|ip|userAgentRef (record.ts)
local p1 = string.find(v, '|', 1, true)
local p2 = string.find(v, '|', p1 + 1, true)
local p3 = string.find(v, '|', p2 + 1, true)
local u = string.sub(v, 1, p1 - 1)
local created = string.sub(v, p1 + 1, p2 - 1)
local tilde = string.find(created, '~', 1, true)
if tilde then created = string.sub(created, 1, tilde - 1) end
local abs = tonumber(created, 36) + absTtl
local last = tonumber(string.sub(v, p2 + 1, p3 - 1), 36)
if abs <= now then
  redis.call('DEL', key)
  return false
end
-- the expiry a slide moved the session from (for the live count), -1 without a slide
local from = -1
-- Every write sets "last seen" and the expiry it targets together, so while "last seen" is
-- less than a step old the expiry lags its target by less than a step, and the read is one
-- GET. Otherwise (at most once a step) the expiry moves to its target, "last seen" to now.
if now - last >= step then
  local pttl = redis.call('PTTL', key)
  local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
  local n = math.floor(now)
  local b = ''
  repeat
    local r = n % 36
    b = string.sub(digits, r + 1, r + 1) .. b
    n = math.floor(n / 36)
  until n == 0
  v = string.sub(v, 1, p2) .. b .. string.sub(v, p3)
  if pttl >= 0 then
    redis.call('SET', key, v, 'PX', math.min(now + ttl, abs) - now)
    from = now + pttl
  else
    redis.call('SET', key, v, 'KEEPTTL')
  end
end
`

/** Answers {record (possibly slid), expiry it slid from or -1}, or nil when there is no live session. */
const READ_AND_SLIDE = `${READ_AND_SLIDE_BODY}
return {v, from}
`

/*
 * The same, and the user in the same round trip: GET /me then costs one Redis command. The
 * user key is built in the script, which a Redis Cluster does not allow (the key is not
 * declared and may live on another node), so this variant is for a single Redis only.
 * HMGET of the fields a User is made of (USER_FIELDS), not HGETALL: the user's session
 * index stays behind, and Lua turns a dozen values into strings instead of twice as many
 * (the script costs Redis about a third less). Answers {record, expiry it slid from or -1,
 * the values of USER_FIELDS} or nil.
 */
const READ_AND_SLIDE_WITH_USER = `${READ_AND_SLIDE_BODY}
-- ARGV[5]  user key before the user id (prefix .. 'user:{')
-- ARGV[6]  user key after the user id ('}')
-- A UUID is stored as its 32 hex digits (record.ts).
if #u == 32 then u = string.sub(u, 1, 8) .. '-' .. string.sub(u, 9, 12) .. '-' .. string.sub(u, 13, 16) .. '-' .. string.sub(u, 17, 20) .. '-' .. string.sub(u, 21) end
return {v, from, redis.call('HMGET', ARGV[5] .. u .. ARGV[6], ${USER_FIELDS.map(f => `'${f}'`).join(', ')})}
`

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseSessionRead: (key: string, now: number, ttl: number, step: number, absoluteTtl: number) => Promise<[string, number] | null>
    gatehouseSessionReadWithUser: (key: string, now: number, ttl: number, step: number, absoluteTtl: number, userKeyBefore: string, userKeyAfter: string) => Promise<[string, number, Array<string | null>] | null>
  }
}

/** For defineScripts (src/redis/scripts.ts). */
export const SESSION_SCRIPTS: Record<string, LuaScript> = {
  gatehouseSessionRead: { keys: ['session'], argv: ['now', 'ttl', 'step', 'absoluteTtl'], lua: READ_AND_SLIDE },
  gatehouseSessionReadWithUser: { keys: ['session'], argv: ['now', 'ttl', 'step', 'absoluteTtl', 'userKeyBefore', 'userKeyAfter'], lua: READ_AND_SLIDE_WITH_USER }
}
