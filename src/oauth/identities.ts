import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../redis/client.js'
import { digest } from '../crypto/secrets.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { DEL_IF_EQUAL_LUA } from '../accounts/user-scripts.js'

/** A provider account linked to a Gatehouse account. */
export interface Identity {
  /** public handle, for DELETE /identities/:id */
  id: string
  userId: string
  provider: string
  issuer: string
  subject: string
  email: string | null
  linkedAt: string
}

/*
 * Unlinks one identity unless it is the user's last way to sign in: no password (an empty
 * passwordHash), no other identity and no passkey. Both keys carry the user's hash tag, so one script
 * sees both in a Redis Cluster, and two concurrent unlinks cannot remove the last two.
 * Returns 1 unlinked, 0 unknown id, -1 refused.
 */
const UNLINK: LuaScript = {
  keys: ['userKey', 'identitiesKey', 'passkeysKey'],
  argv: ['identityId'],
  lua: `
-- the user's hash, for its passwordHash
local userKey = KEYS[1]
-- the user's identities: id -> record
local identitiesKey = KEYS[2]
-- the user's passkeys (src/passkeys/store.ts)
local passkeysKey = KEYS[3]
-- the identity to remove
local identityId = ARGV[1]
if redis.call('HEXISTS', identitiesKey, identityId) == 0 then return 0 end
local hash = redis.call('HGET', userKey, 'passwordHash')
if (not hash or hash == '') and redis.call('HLEN', identitiesKey) <= 1 and redis.call('HLEN', passkeysKey) == 0 then return -1 end
redis.call('HDEL', identitiesKey, identityId)
return 1
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseOauthUnlink: (userKey: string, identitiesKey: string, passkeysKey: string, identityId: string) => Promise<number>
  }
}

export type LinkResult = { ok: true, identity: Identity } | { ok: false, reason: 'taken', userId: string }

/**
 * Identities in Redis. `<prefix>oauth:identity:<digest(issuer, subject)>` maps a provider
 * account to one user, claimed with SET NX so that it can never map to two; the user's
 * `<prefix>user:{<id>}:identities` hash holds the records by id.
 */
export class IdentityStore {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
    defineScripts(redis, { gatehouseOauthUnlink: UNLINK, gatehouseDelIfEqual: DEL_IF_EQUAL_LUA })
  }

  indexKey (issuer: string, subject: string): string {
    // The issuer is part of the key: two providers may well use the same subject.
    return `${this.#prefix}oauth:identity:${digest(`${issuer}\n${subject}`)}`
  }

  userIdentitiesKey (userId: string): string { return `${this.#prefix}user:{${userId}}:identities` }
  userKey (userId: string): string { return `${this.#prefix}user:{${userId}}` }

  /** The user this provider account is linked to, or null. */
  async userOf (issuer: string, subject: string): Promise<string | null> {
    return await this.#redis.get(this.indexKey(issuer, subject))
  }

  async link (userId: string, input: Omit<Identity, 'id' | 'userId' | 'linkedAt'>): Promise<LinkResult> {
    const index = this.indexKey(input.issuer, input.subject)
    const claimed = await this.#redis.set(index, userId, 'NX')
    if (claimed === null) {
      const owner = await this.#redis.get(index)
      if (owner !== userId) return { ok: false, reason: 'taken', userId: owner ?? '' }
      const existing = (await this.list(userId)).find(i => i.issuer === input.issuer && i.subject === input.subject)
      if (existing !== undefined) return { ok: true, identity: existing }
    }
    const identity: Identity = { id: randomUUID(), userId, linkedAt: new Date().toISOString(), ...input }
    await this.#redis.hset(this.userIdentitiesKey(userId), identity.id, JSON.stringify(identity))
    return { ok: true, identity }
  }

  async list (userId: string): Promise<Identity[]> {
    const all = await this.#redis.hvals(this.userIdentitiesKey(userId))
    return all.map(v => JSON.parse(v) as Identity).sort((a, b) => a.linkedAt.localeCompare(b.linkedAt))
  }

  /**
   * Frees every provider account linked to the user (an account being deleted): the
   * index entries that still name the user go; the user's own list goes with the record.
   */
  async removeAll (userId: string): Promise<void> {
    for (const identity of await this.list(userId)) {
      await this.#redis.gatehouseDelIfEqual(this.indexKey(identity.issuer, identity.subject), userId)
    }
  }

  /** Removes identity `id` of `userId`; refused when it is the last way to sign in. */
  async unlink (userId: string, id: string): Promise<'unlinked' | 'unknown' | 'last'> {
    const raw = await this.#redis.hget(this.userIdentitiesKey(userId), id)
    if (raw === null) return 'unknown'
    const r = await this.#redis.gatehouseOauthUnlink(this.userKey(userId), this.userIdentitiesKey(userId), `${this.#prefix}user:{${userId}}:passkeys`, id)
    if (r === 0) return 'unknown'
    if (r === -1) return 'last'
    const identity = JSON.parse(raw) as Identity
    const index = this.indexKey(identity.issuer, identity.subject)
    // Only the index entry that still points at this user is removed.
    if (await this.#redis.get(index) === userId) await this.#redis.del(index)
    return 'unlinked'
  }
}
