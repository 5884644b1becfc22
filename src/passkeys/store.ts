import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../redis/client.js'
import { digest } from '../crypto/secrets.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

/** At most this many passkeys an account: a list a person can still read, and bounded Lua loops. */
export const MAX_PASSKEYS = 20

/** A WebAuthn credential of a user, as stored. */
export interface Passkey {
  /** public handle, for PATCH and DELETE /passkeys/:id */
  id: string
  /** the credential id, base64url */
  credentialId: string
  /** the COSE public key, base64url */
  publicKey: string
  /** the authenticator's signature counter at its last use (0: it keeps none) */
  counter: number
  /** comma-separated (an empty Lua table would come back from cjson as an object) */
  transports: string
  aaguid: string
  /** `multiDevice`: a synced passkey; `singleDevice`: bound to one authenticator */
  deviceType: 'singleDevice' | 'multiDevice'
  /** the backup-state flag at its last use */
  backedUp: boolean
  name: string
  createdAt: string
  lastUsedAt: string | null
}

/*
 * Adds a passkey unless the user already has this credential or as many passkeys as allowed.
 * Returns 1 added, -1 a duplicate credential, -2 the limit reached.
 */
const ADD: LuaScript = {
  keys: ['passkeysKey'],
  argv: ['id', 'credentialId', 'record', 'max'],
  lua: `
-- the user's passkeys: id -> JSON record
local passkeysKey = KEYS[1]
-- the new passkey's handle, its credential id and its record
local id = ARGV[1]
local credentialId = ARGV[2]
local record = ARGV[3]
-- passkeys an account may have
local max = tonumber(ARGV[4])
local all = redis.call('HVALS', passkeysKey)
for _, v in ipairs(all) do
  if cjson.decode(v).credentialId == credentialId then return -1 end
end
if #all >= max then return -2 end
redis.call('HSET', passkeysKey, id, record)
return 1
`
}

/*
 * Records a use: the new counter, backup state and time, unless the counter went back (a
 * cloned authenticator, or a replay): then nothing changes. A counter of 0 on both sides
 * means the authenticator keeps none (as synced passkeys do). Returns 1 recorded, 0 no such
 * passkey, -1 the counter went back.
 */
const USE: LuaScript = {
  keys: ['passkeysKey'],
  argv: ['id', 'counter', 'backedUp', 'usedAt'],
  lua: `
-- the user's passkeys: id -> JSON record
local passkeysKey = KEYS[1]
-- the passkey used
local id = ARGV[1]
-- the counter the authenticator signed
local counter = tonumber(ARGV[2])
-- its backup-state flag, '1' or '0'
local backedUp = ARGV[3] == '1'
-- when, ISO 8601
local usedAt = ARGV[4]
local v = redis.call('HGET', passkeysKey, id)
if not v then return 0 end
local r = cjson.decode(v)
if (counter > 0 or r.counter > 0) and counter <= r.counter then return -1 end
r.counter = counter
r.backedUp = backedUp
r.lastUsedAt = usedAt
redis.call('HSET', passkeysKey, id, cjson.encode(r))
return 1
`
}

/* Renames a passkey in place, so a use recorded meanwhile is kept. Returns 1, or 0 when unknown. */
const RENAME: LuaScript = {
  keys: ['passkeysKey'],
  argv: ['id', 'name'],
  lua: `
-- the user's passkeys: id -> JSON record
local passkeysKey = KEYS[1]
local id = ARGV[1]
local name = ARGV[2]
local v = redis.call('HGET', passkeysKey, id)
if not v then return 0 end
local r = cjson.decode(v)
r.name = name
redis.call('HSET', passkeysKey, id, cjson.encode(r))
return 1
`
}

/*
 * Removes a passkey unless it is the user's last way to sign in: no password, no linked
 * identity and no other passkey. The keys share the user's hash tag, so one script sees them
 * all on a Cluster and two concurrent removals cannot take away the last two.
 * Returns 1 removed, 0 unknown, -1 refused.
 */
const REMOVE: LuaScript = {
  keys: ['userKey', 'passkeysKey', 'identitiesKey'],
  argv: ['id'],
  lua: `
-- the user's hash, for its passwordHash
local userKey = KEYS[1]
-- the user's passkeys: id -> JSON record
local passkeysKey = KEYS[2]
-- the user's provider identities
local identitiesKey = KEYS[3]
local id = ARGV[1]
if redis.call('HEXISTS', passkeysKey, id) == 0 then return 0 end
local hash = redis.call('HGET', userKey, 'passwordHash')
if (not hash or hash == '') and redis.call('HLEN', identitiesKey) == 0 and redis.call('HLEN', passkeysKey) <= 1 then return -1 end
redis.call('HDEL', passkeysKey, id)
return 1
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehousePasskeyAdd: (passkeysKey: string, id: string, credentialId: string, record: string, max: number) => Promise<number>
    gatehousePasskeyUse: (passkeysKey: string, id: string, counter: number, backedUp: string, usedAt: string) => Promise<number>
    gatehousePasskeyRename: (passkeysKey: string, id: string, name: string) => Promise<number>
    gatehousePasskeyRemove: (userKey: string, passkeysKey: string, identitiesKey: string, id: string) => Promise<number>
  }
}

export type NewPasskey = Omit<Passkey, 'id' | 'createdAt' | 'lastUsedAt'>

/**
 * Passkeys in Redis: `<prefix>user:{<id>}:passkeys`, a hash of JSON records by handle, in the
 * user's hash slot beside the user record and identities (the removal rule reads all three).
 * A credential is found by the user handle the authenticator returns, then by its id in that
 * small hash: no global index to keep in step.
 */
export class PasskeyStore {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
    defineScripts(redis, { gatehousePasskeyAdd: ADD, gatehousePasskeyUse: USE, gatehousePasskeyRename: RENAME, gatehousePasskeyRemove: REMOVE })
  }

  key (userId: string): string { return `${this.#prefix}user:{${userId}}:passkeys` }

  async list (userId: string): Promise<Passkey[]> {
    const all = await this.#redis.hvals(this.key(userId))
    return all.map(v => JSON.parse(v) as Passkey).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  async count (userId: string): Promise<number> {
    return await this.#redis.hlen(this.key(userId))
  }

  async byCredentialId (userId: string, credentialId: string): Promise<Passkey | null> {
    return (await this.list(userId)).find(p => p.credentialId === credentialId) ?? null
  }

  async add (userId: string, input: NewPasskey): Promise<{ ok: true, passkey: Passkey } | { ok: false, reason: 'duplicate' | 'limit' }> {
    const passkey: Passkey = { id: randomUUID(), ...input, createdAt: new Date().toISOString(), lastUsedAt: null }
    const r = await this.#redis.gatehousePasskeyAdd(this.key(userId), passkey.id, passkey.credentialId, JSON.stringify(passkey), MAX_PASSKEYS)
    if (r === -1) return { ok: false, reason: 'duplicate' }
    if (r === -2) return { ok: false, reason: 'limit' }
    return { ok: true, passkey }
  }

  async recordUse (userId: string, id: string, counter: number, backedUp: boolean): Promise<'ok' | 'unknown' | 'counter'> {
    const r = await this.#redis.gatehousePasskeyUse(this.key(userId), id, counter, backedUp ? '1' : '0', new Date().toISOString())
    return r === 1 ? 'ok' : r === 0 ? 'unknown' : 'counter'
  }

  async rename (userId: string, id: string, name: string): Promise<boolean> {
    return await this.#redis.gatehousePasskeyRename(this.key(userId), id, name) === 1
  }

  async remove (userId: string, id: string): Promise<'removed' | 'unknown' | 'last'> {
    const r = await this.#redis.gatehousePasskeyRemove(`${this.#prefix}user:{${userId}}`, this.key(userId), `${this.#prefix}user:{${userId}}:identities`, id)
    return r === 1 ? 'removed' : r === 0 ? 'unknown' : 'last'
  }
}

/**
 * Ceremony challenges: one per binding (a session's registration, a pending sign-in's
 * `challengeId`, a 2FA challenge's `mfaToken`), kept as the SHA-256 of the challenge under
 * the SHA-256 of the binding, for `ttlMs`. Taking one deletes it (GETDEL), so each is
 * answered at most once, right or wrong.
 */
export class PasskeyChallenges {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttlMs: number

  constructor (redis: RedisClient, prefix: string, ttlMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.ttlMs = ttlMs
  }

  key (binding: string): string { return `${this.#prefix}passkey:challenge:${digest(binding)}` }

  async put (binding: string, challenge: string): Promise<void> {
    await this.#redis.set(this.key(binding), digest(challenge), 'PX', this.ttlMs)
  }

  /** The digest of the binding's challenge, deleted as it is read; null when none is live. */
  async take (binding: string): Promise<string | null> {
    return await this.#redis.getdel(this.key(binding))
  }
}
