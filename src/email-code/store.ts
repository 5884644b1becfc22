import { randomInt } from 'node:crypto'
import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { digest, hmac, randomToken } from '../crypto/secrets.js'

/** Wrong codes one request survives; the next check after the last one finds no code. */
export const EMAIL_CODE_MAX_ATTEMPTS = 5

/*
 * Checks a typed code against the user's live sign-in request, counting the attempt in the
 * same step, so at most MAX codes are ever compared however many requests race for it.
 * The fifth wrong code removes the code (the link stays: it cannot be guessed); a right one
 * deletes the whole request, so it is spent once. Returns nil when there is no live code,
 * {1, cv, token digest} for the right code, {0, attempts} for a wrong one.
 */
const CHECK_CODE: LuaScript = {
  keys: ['requestKey'],
  argv: ['codeDigest', 'maxAttempts'],
  lua: `
-- the user's sign-in request { code, token, cv, attempts }
local requestKey = KEYS[1]
-- HMAC of the code typed
local codeDigest = ARGV[1]
-- codes a request may have checked in all
local maxAttempts = tonumber(ARGV[2])
local code = redis.call('HGET', requestKey, 'code')
if not code then return nil end
local n = redis.call('HINCRBY', requestKey, 'attempts', 1)
if code == codeDigest then
  local spent = redis.call('HMGET', requestKey, 'cv', 'token')
  redis.call('DEL', requestKey)
  return {1, spent[1] or '0', spent[2] or ''}
end
if n >= maxAttempts then redis.call('HDEL', requestKey, 'code') end
return {0, n}
`
}

/* Spends the request by its link: only if it still holds that link's digest. Returns cv or nil. */
const CLAIM_LINK: LuaScript = {
  keys: ['requestKey'],
  argv: ['tokenDigest'],
  lua: `
-- the user's sign-in request { code, token, cv, attempts }
local requestKey = KEYS[1]
-- SHA-256 of the link's token
local tokenDigest = ARGV[1]
if redis.call('HGET', requestKey, 'token') ~= tokenDigest then return nil end
local cv = redis.call('HGET', requestKey, 'cv') or '0'
redis.call('DEL', requestKey)
return cv
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseEmailCodeCheck: (requestKey: string, codeDigest: string, maxAttempts: number) => Promise<[number, string | number, string?] | null>
    gatehouseEmailCodeClaimLink: (requestKey: string, tokenDigest: string) => Promise<string | null>
  }
}

export type CodeCheck = { ok: true, cv: number } | { ok: false }

/** Six digits, uniformly drawn (randomInt has no modulo bias). */
export function newCode (): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0')
}

/**
 * The live email sign-in request of each user: a 6-digit code and a link carrying a 256-bit
 * token, kept only as digests in one hash in the user's slot (`<prefix>user:{<id>}:email-code`,
 * { code, token, cv, attempts }) with a TTL, plus `<prefix>email-code:<token digest>` naming the
 * user for the link. The code's digest is an HMAC under a server key: six digits hashed
 * plainly would be undone by trying all million. A new request replaces the old one.
 */
export class EmailCodes {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #key: string
  readonly ttlMs: number

  /** `key`: the HMAC key for codes (derived from the session secret by the plugin). */
  constructor (redis: RedisClient, prefix: string, key: string, ttlMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.#key = key
    this.ttlMs = ttlMs
    defineScripts(redis, { gatehouseEmailCodeCheck: CHECK_CODE, gatehouseEmailCodeClaimLink: CLAIM_LINK })
  }

  requestKey (userId: string): string { return `${this.#prefix}user:{${userId}}:email-code` }
  #linkKey (tokenDigest: string): string { return `${this.#prefix}email-code:${tokenDigest}` }
  #codeDigest (userId: string, code: string): string { return hmac(this.#key, `${userId}:${code}`) }

  /**
   * A new code and link for the user, replacing any earlier request (its code and link stop
   * working). `cv`: the credential version of the user record now; a credential change
   * before the code is used kills it.
   */
  async issue (userId: string, cv: number): Promise<{ code: string, token: string }> {
    const code = newCode()
    const token = randomToken(32)
    const tokenDigest = digest(token)
    await this.#redis.set(this.#linkKey(tokenDigest), userId, 'PX', this.ttlMs)
    const previous = await this.#replace(this.requestKey(userId), { code: this.#codeDigest(userId, code), token: tokenDigest, cv: String(cv), attempts: '0' })
    if (previous !== null && previous !== tokenDigest) await this.#redis.del(this.#linkKey(previous))
    return { code, token }
  }

  /** One transaction in the user's slot: the old request's link digest out, the new request in. */
  async #replace (key: string, fields: Record<string, string>): Promise<string | null> {
    const results = await this.#redis.multi().hget(key, 'token').del(key).hset(key, fields).pexpire(key, this.ttlMs).exec()
    const [err, previous] = results?.[0] ?? [null, null]
    if (err !== null) throw err
    return typeof previous === 'string' ? previous : null
  }

  /**
   * The Redis work of issue() for an address that gets no code, so its answer costs the
   * same round trips and writes. Leaves nothing behind.
   */
  async touch (): Promise<void> {
    const d = digest(randomToken(32))
    // One hash tag, so the final DEL of both keys works in a Redis Cluster too.
    const link = `${this.#prefix}decoy:{${d}}:email-code-link`
    const request = `${this.#prefix}decoy:{${d}}:email-code`
    await this.#redis.set(link, '1', 'PX', 60_000)
    await this.#replace(request, { code: d, token: d, cv: '0', attempts: '0' })
    await this.#redis.del(link, request)
  }

  /** Checks a typed code (one of at most EMAIL_CODE_MAX_ATTEMPTS); a right one spends the request. */
  async checkCode (userId: string, code: string): Promise<CodeCheck> {
    const r = await this.#redis.gatehouseEmailCodeCheck(this.requestKey(userId), this.#codeDigest(userId, code), EMAIL_CODE_MAX_ATTEMPTS)
    if (r === null || Number(r[0]) !== 1) return { ok: false }
    // The request is spent; its link key would only point at nothing until it expires.
    if (r[2] !== undefined && r[2] !== '') await this.#redis.del(this.#linkKey(r[2]))
    return { ok: true, cv: Number(r[1]) }
  }

  /** The user a link was issued to, without spending it; null when unknown or expired. */
  async linkOwner (token: string): Promise<string | null> {
    return await this.#redis.get(this.#linkKey(digest(token)))
  }

  /** Ends the user's outstanding code and link (the account's address changed, or it is deleted). */
  async revoke (userId: string): Promise<void> {
    const key = this.requestKey(userId)
    const tokenDigest = await this.#redis.hget(key, 'token')
    await this.#redis.del(key, ...(tokenDigest === null ? [] : [this.#linkKey(tokenDigest)]))
  }

  /**
   * Spends the user's request by its link: the credential version it was issued under, or
   * null when the request was spent, replaced or has expired meanwhile.
   */
  async claimLink (userId: string, token: string): Promise<number | null> {
    const tokenDigest = digest(token)
    const cv = await this.#redis.gatehouseEmailCodeClaimLink(this.requestKey(userId), tokenDigest)
    await this.#redis.del(this.#linkKey(tokenDigest))
    return cv === null ? null : Number(cv)
  }
}
