import type { RedisClient } from '../redis/client.js'

/**
 * The two sorted sets kept beside the session keys:
 * - per user, the digests of its sessions scored by absolute expiry, under the user's hash
 *   tag, so listing and ending a user's sessions costs O(sessions of that user);
 * - the census, every live session's digest scored by its current expiry, kept in step on
 *   write, slide and destroy, so counting sessions is O(log N) instead of a SCAN.
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
  get censusKey (): string { return `${this.#prefix}sessions:live` }

  /** Records a session written until `expiresAt` (absolute end `absoluteExpiresAt`); true when it is new to the user's index. */
  async add (userId: string, d: string, absoluteExpiresAt: number, expiresAt: number): Promise<boolean> {
    const [added] = await Promise.all([
      this.#redis.zadd(this.keyOf(userId), absoluteExpiresAt, d),
      this.#redis.zadd(this.censusKey, expiresAt, d)
    ])
    return added === 1
  }

  /** The session slid: its census entry follows. */
  async slid (d: string, expiresAt: number): Promise<void> {
    await this.#redis.zadd(this.censusKey, expiresAt, d)
  }

  /** Forgets sessions that have ended (`userId` undefined: their record was already gone). */
  async remove (userId: string | undefined, digests: string[]): Promise<void> {
    if (digests.length === 0) return
    await Promise.all([
      userId === undefined ? undefined : this.#redis.zrem(this.keyOf(userId), ...digests),
      this.#redis.zrem(this.censusKey, ...digests)
    ])
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

  /** Number of sessions not yet expired; prunes the census on the way. */
  async countActive (): Promise<number> {
    await this.#redis.zremrangebyscore(this.censusKey, '-inf', this.#now())
    return await this.#redis.zcard(this.censusKey)
  }
}
