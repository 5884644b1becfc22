import type { LuaScript } from '../redis/scripts.js'

/**
 * The Lua of the user repository. Each script touches keys of one slot only (see
 * UserRepository for how the email claim and the user's record come to share one).
 */

/**
 * KEYS[1] the email claim  KEYS[2] the new user's hash
 * ARGV[1] the new id  ARGV[2] expiry of a pending account in ms (0: none)  ARGV[3..] the hash's field/value pairs
 * Writes the claim and the user together, or nothing when the address is claimed.
 * Returns {1, id} when created, {0, holder} when the address was taken.
 */
export const CREATE_USER_LUA: LuaScript = {
  keys: ['emailKey', 'userKey'],
  argv: ['id', 'ttlMs', '...fields'],
  lua: `
-- KEYS[1] the email claim; KEYS[2] the new user's hash (one slot: the id is chosen for it)
-- ARGV[1] the new id; ARGV[2] expiry of a pending account, ms (0: none); ARGV[3..] the hash's field/value pairs
local holder = redis.call('GET', KEYS[1])
if holder then return {0, holder} end
local ttl = tonumber(ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return {1, ARGV[1]}
`
}

/**
 * KEYS[1] the user's hash
 * Counts one more registration for a pending (unverified) account. Returns the count, or
 * 0 when the account is verified or gone (then nothing is written).
 */
export const CONTEST_PENDING_LUA: LuaScript = {
  keys: ['userKey'],
  argv: [],
  lua: `
-- KEYS[1] the user's hash
local verified = redis.call('HGET', KEYS[1], 'emailVerified')
if verified ~= '0' then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'registrations', 1)
if n < 2 then n = redis.call('HINCRBY', KEYS[1], 'registrations', 1) end
return n
`
}

/**
 * KEYS[1] the user's hash  KEYS[2] the email claim
 * ARGV[1] now (ISO time)  ARGV[2] the hash that replaces a contested password ('' keeps it)
 * Verifies the account and ends the expiry of a pending one. Returns 'verified', 'already'
 * (it was verified before), 'contested' (several registrations named it: the password was
 * replaced) or nil when the user does not exist.
 */
export const SETTLE_USER_LUA: LuaScript = {
  keys: ['userKey', 'emailKey'],
  argv: ['now', 'unusableHash'],
  lua: `
-- KEYS[1] the user's hash; KEYS[2] the email claim
-- ARGV[1] now (ISO time); ARGV[2] the hash that replaces a contested password ('' keeps it)
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local function persist ()
  redis.call('PERSIST', KEYS[1])
  if redis.call('GET', KEYS[2]) == redis.call('HGET', KEYS[1], 'id') then redis.call('PERSIST', KEYS[2]) end
end
if redis.call('HGET', KEYS[1], 'emailVerified') == '1' then
  persist()
  return 'already'
end
local contested = tonumber(redis.call('HGET', KEYS[1], 'registrations') or '1') > 1
-- HSET first: at maxmemory Redis refuses it before anything is written (once a script has
-- written, Redis lets the rest through), so a full store changes nothing and says so.
redis.call('HSET', KEYS[1], 'emailVerified', '1', 'updatedAt', ARGV[1])
redis.call('HDEL', KEYS[1], 'registrations')
persist()
if contested and ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2])
  return 'contested'
end
return 'verified'
`
}

/** KEYS[1] a key  ARGV[1] a value: deletes the key only while it still holds that value. */
export const DEL_IF_EQUAL_LUA: LuaScript = {
  keys: ['key'],
  argv: ['value'],
  lua: `
-- KEYS[1] a key; ARGV[1] the value it must still hold
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
}

/**
 * KEYS[1] the user's hash  KEYS[2] the user's pointer to their live emailed token
 * ARGV[1] the digest of the token presented  ARGV[2] now (ISO time)  ARGV[3..] field/value pairs
 * Writes the fields, counts a change of credentials, and spends the link in one step: of two uses of one link exactly one
 * writes, and a write Redis refuses (maxmemory) leaves the link as it was. Returns 1 when
 * written, 0 when the link is not the user's live one (used, replaced or expired).
 */
export const UPDATE_WITH_TOKEN_LUA: LuaScript = {
  keys: ['userKey', 'pointerKey'],
  argv: ['digest', 'now', '...fields'],
  lua: `
-- KEYS[1] the user's hash; KEYS[2] the user's pointer to their live emailed token
-- ARGV[1] the digest of the token presented; ARGV[2] now (ISO time); ARGV[3..] field/value pairs
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local fields = {'updatedAt', ARGV[2]}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HINCRBY', KEYS[1], 'credVersion', 1)
redis.call('DEL', KEYS[2])
return 1
`
}

/**
 * KEYS[1] the user's hash  ARGV[1] now (ISO time)  ARGV[2..] field/value pairs
 * Writes the fields only on an existing user (HSET on a missing one would make half a user).
 * Returns 1 when written.
 */
export const SET_IF_EXISTS_LUA: LuaScript = {
  keys: ['userKey'],
  argv: ['now', '...fields'],
  lua: `
-- KEYS[1] the user's hash; ARGV[1] now (ISO time); ARGV[2..] field/value pairs
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local fields = {'updatedAt', ARGV[1]}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
`
}

/** KEYS[1] a claim  ARGV[1] the id it must name  ARGV[2] ms: the claim ends after that long, if it is still the user's. */
export const EXPIRE_IF_EQUAL_LUA: LuaScript = {
  keys: ['key'],
  argv: ['value', 'ttlMs'],
  lua: `
-- KEYS[1] a claim; ARGV[1] the id it must still name; ARGV[2] its remaining life, ms
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`
}
