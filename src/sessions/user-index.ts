import type { RedisClient } from '../redis/client.js'

/**
 * The sorted set kept beside the session keys, per user: the digests of its sessions
 * scored by absolute expiry, under the user's hash tag, so listing and ending a user's
 * sessions costs O(sessions of that user). (Counting all sessions is expiry-count.ts.)
 * Single-key commands only: the session keys live in other cluster slots than these sets.
 */
export class SessionIndex {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #now: () => number

  constructor (redis: RedisClient, prefix: string, now: () => number) {
    this.#redis = redis
    this.#prefix = prefix
    this.#now = now
  }

  keyOf (userId: string): string { return `${this.#prefix}user:{${userId}}:sessions` }

  /** Records a session of `userId` ending at `absoluteExpiresAt` at the latest; true when it is new to the index. */
  async add (userId: string, d: string, absoluteExpiresAt: number): Promise<boolean> {
    return await this.#redis.zadd(this.keyOf(userId), absoluteExpiresAt, d) === 1
  }

  /** Forgets sessions of the user that have ended. */
  async remove (userId: string, digests: string[]): Promise<void> {
    if (digests.length > 0) await this.#redis.zrem(this.keyOf(userId), ...digests)
  }

  /** The user's digests, after dropping those past their absolute expiry. */
  async digests (userId: string): Promise<string[]> {
    const index = this.keyOf(userId)
    await this.#redis.zremrangebyscore(index, '-inf', this.#now())
    return await this.#redis.zrange(index, 0, -1)
  }

  /** Drops entries of the user whose session key is gone (idle expiry happens in Redis and leaves them). */
  async dropDead (userId: string, dead: string[]): Promise<void> {
    if (dead.length > 0) await this.#redis.zrem(this.keyOf(userId), ...dead)
  }

  /** Lets the user's index expire with the last absolute expiry it holds. */
  async expireWithLast (userId: string): Promise<void> {
    const index = this.keyOf(userId)
    const last = await this.#redis.zrange(index, -1, -1, 'WITHSCORES')
    if (last.length === 2) await this.#redis.pexpireat(index, Math.ceil(Number(last[1])))
  }
}
