import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { digest, randomToken } from '../crypto/secrets.js'

/**
 * `email-change` confirms a new address (mailed to it); `email-cancel` undoes a change
 * ("this wasn't me", mailed to the address being replaced).
 */
export type TokenPurpose = 'verify' | 'reset' | 'email-change' | 'email-cancel'

export const TOKEN_PURPOSES: readonly TokenPurpose[] = ['verify', 'reset', 'email-change', 'email-cancel']

/* Deletes a user's "current token" pointer only if it still names the token being spent. */
const DEL_IF_EQUAL: LuaScript = {
  keys: ['key'],
  argv: ['expected'],
  lua: `
-- the key to delete
local key = KEYS[1]
-- the value it must still hold
local expected = ARGV[1]
if redis.call('GET', key) == expected then return redis.call('DEL', key) end
return 0
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseDelIfEqual: (key: string, value: string) => Promise<number>
  }
}

/**
 * Single-use tokens sent by email: 256 random bits, kept in Redis only as a SHA-256 digest
 * with a TTL. Each user has one live token per purpose: issuing a new one deletes the
 * previous one, so an older link stops working. Consuming is GETDEL, which Redis runs
 * atomically, so of two concurrent uses of one token at most one succeeds.
 */
export class EmailTokens {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
    defineScripts(redis, { gatehouseDelIfEqual: DEL_IF_EQUAL })
  }

  #tokenKey (purpose: TokenPurpose, d: string): string { return `${this.#prefix}${purpose}:${d}` }
  #currentKey (purpose: TokenPurpose, userId: string): string { return `${this.#prefix}user:{${userId}}:${purpose}` }

  /**
   * The user's pointer to their live token of `purpose` and the digest it must hold for
   * `token`: in the user's slot, so a script can spend the link in the same step as it
   * writes the change (UserRepository.updateWithToken).
   */
  pointer (purpose: TokenPurpose, userId: string, token: string): { key: string, digest: string } {
    return { key: this.#currentKey(purpose, userId), digest: digest(token) }
  }

  async issue (purpose: TokenPurpose, userId: string, ttlMs: number): Promise<string> {
    const token = randomToken(32)
    const d = digest(token)
    // The token key first, then the pointer swap: each swap deletes the token it replaced,
    // so of concurrent issues exactly the one the pointer ends on stays usable.
    await this.#redis.set(this.#tokenKey(purpose, d), userId, 'PX', ttlMs)
    const previous = await this.#redis.set(this.#currentKey(purpose, userId), d, 'PX', ttlMs, 'GET')
    if (previous !== null && previous !== d) await this.#redis.del(this.#tokenKey(purpose, previous))
    return token
  }

  /**
   * The user id the token was issued to, without using it up: for changes that must be
   * written before the link is spent (a failed write leaves the link working).
   */
  async peek (purpose: TokenPurpose, token: string): Promise<string | null> {
    return await this.#redis.get(this.#tokenKey(purpose, digest(token)))
  }

  /** The user id the token was issued to, or null if it is unknown, expired or used. */
  async consume (purpose: TokenPurpose, token: string): Promise<string | null> {
    const d = digest(token)
    const userId = await this.#redis.getdel(this.#tokenKey(purpose, d))
    if (userId === null) return null
    // Drop the pointer only if it still names this token: a newer token issued meanwhile
    // must stay revocable (revoke() finds tokens through the pointer).
    await this.#redis.gatehouseDelIfEqual(this.#currentKey(purpose, userId), d)
    return userId
  }

  /**
   * The Redis work of issue() for the path of an unknown address, so that its answer costs
   * about as much as a real issue: the same number of round trips and of writes (with
   * appendfsync always, a write costs far more than a read). Leaves nothing behind.
   */
  async touch (purpose: TokenPurpose): Promise<void> {
    const d = digest(randomToken(32))
    // One hash tag, so the final DEL of both keys works in a Redis Cluster too.
    const token = `${this.#prefix}decoy:{${d}}:${purpose}`
    const pointer = `${this.#prefix}decoy:{${d}}:current`
    await this.#redis.set(token, '1', 'PX', 60_000)
    await this.#redis.set(pointer, d, 'PX', 60_000, 'GET')
    await this.#redis.del(token, pointer)
  }

  /** Milliseconds the user's live token of `purpose` still works; 0 when there is none. */
  async remaining (purpose: TokenPurpose, userId: string): Promise<number> {
    return Math.max(0, await this.#redis.pttl(this.#currentKey(purpose, userId)))
  }

  /** Makes every outstanding token of this purpose useless (after the account changed). */
  async revoke (purpose: TokenPurpose, userId: string): Promise<void> {
    const current = await this.#redis.getdel(this.#currentKey(purpose, userId))
    if (current !== null) await this.#redis.del(this.#tokenKey(purpose, current))
  }
}
