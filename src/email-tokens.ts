import type { RedisClient } from './redis.js'
import { digest, randomToken } from './tokens.js'

export type TokenPurpose = 'verify' | 'reset'

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
  }

  #tokenKey (purpose: TokenPurpose, d: string): string { return `${this.#prefix}${purpose}:${d}` }
  #currentKey (purpose: TokenPurpose, userId: string): string { return `${this.#prefix}user:{${userId}}:${purpose}` }

  async issue (purpose: TokenPurpose, userId: string, ttlSeconds: number): Promise<string> {
    const token = randomToken(32)
    const d = digest(token)
    const previous = await this.#redis.set(this.#currentKey(purpose, userId), d, 'EX', ttlSeconds, 'GET')
    if (previous !== null) await this.#redis.del(this.#tokenKey(purpose, previous))
    await this.#redis.set(this.#tokenKey(purpose, d), userId, 'EX', ttlSeconds)
    return token
  }

  /** The user id the token was issued to, or null if it is unknown, expired or used. */
  async consume (purpose: TokenPurpose, token: string): Promise<string | null> {
    const d = digest(token)
    const userId = await this.#redis.getdel(this.#tokenKey(purpose, d))
    if (userId === null) return null
    await this.#redis.del(this.#currentKey(purpose, userId))
    return userId
  }

  /** Makes every outstanding token of this purpose useless (after the account changed). */
  async revoke (purpose: TokenPurpose, userId: string): Promise<void> {
    const current = await this.#redis.getdel(this.#currentKey(purpose, userId))
    if (current !== null) await this.#redis.del(this.#tokenKey(purpose, current))
  }
}
