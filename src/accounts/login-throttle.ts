import type { RedisClient } from '../redis/client.js'
import { AuthError } from '../http/errors.js'
import { digest } from '../crypto/secrets.js'

export interface LoginThrottleOptions {
  /** key prefix, e.g. `gh:` */
  prefix: string
  /** failures allowed before any delay */
  freeFailures: number
  /** delay after the first failure beyond the free ones, seconds; it doubles with each further failure */
  baseDelay: number
  /** the delay never grows beyond this, seconds: there is no permanent lock */
  maxDelay: number
  /** the count is forgotten this long after the last failure, seconds */
  window: number
}

export const DEFAULT_THROTTLE: Omit<LoginThrottleOptions, 'prefix'> = { freeFailures: 5, baseDelay: 1, maxDelay: 900, window: 3600 }

/*
 * One hash per subject: `n` failures so far, `until` the Redis time (ms) before which no
 * attempt is taken. Redis time, not the caller's clock, so every process agrees. The
 * script runs alone in Redis, so concurrent failures from many processes are all counted.
 */
const RECORD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[1])
local delay = 0
if n >= free then
  delay = math.min(tonumber(ARGV[2]) * 2 ^ math.min(n - free, 30), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until', now + delay)
end
redis.call('PEXPIRE', KEYS[1], delay + tonumber(ARGV[4]))
return delay
`

const CHECK = `
local u = redis.call('HGET', KEYS[1], 'until')
if not u then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = tonumber(u) - now
if left < 0 then return 0 end
return left
`

/**
 * Per-account back-off after failed sign-ins: `freeFailures` failures cost nothing, then
 * each further failure makes the next attempt wait `baseDelay * 2^k` seconds, capped at
 * `maxDelay`. The subject is the normalised login identifier (or a user id), never
 * whether it names an account, so an unknown address is throttled exactly like a known
 * one and the 429 tells an attacker nothing. A success resets the count.
 */
export class LoginThrottle {
  readonly #redis: RedisClient
  readonly #opts: LoginThrottleOptions

  constructor (redis: RedisClient, opts: Partial<LoginThrottleOptions> & { prefix: string }) {
    this.#redis = redis
    this.#opts = { ...DEFAULT_THROTTLE, ...opts }
  }

  get options (): Readonly<LoginThrottleOptions> { return this.#opts }

  /** Normalised like emails and usernames, so `Bob@X.org ` and `bob@x.org` share one count. */
  static normalize (subject: string): string {
    return subject.trim().normalize('NFKC').toLowerCase()
  }

  /** The hash tag keeps the key in one Cluster slot; the digest keeps addresses out of key names. */
  key (subject: string): string {
    return `${this.#opts.prefix}login-throttle:{${digest(LoginThrottle.normalize(subject))}}`
  }

  /** Whole seconds the subject must still wait; 0 when an attempt may be made now. */
  async check (subject: string): Promise<number> {
    const left = Number(await this.#redis.eval(CHECK, 1, this.key(subject)))
    return left <= 0 ? 0 : Math.ceil(left / 1000)
  }

  /** Throws RATE_LIMITED (with retryAfter) while the subject is backing off. */
  async assertAllowed (subject: string): Promise<void> {
    const wait = await this.check(subject)
    if (wait > 0) throw new AuthError('RATE_LIMITED', `Too many failed attempts; try again in ${wait} seconds.`, { retryAfter: wait })
  }

  /**
   * Counts one failure (a wrong password, a wrong MFA code) against a login identifier
   * or a user id; returns the seconds the next attempt must wait.
   */
  async recordFailure (identifierOrUserId: string): Promise<number> {
    const o = this.#opts
    const delay = Number(await this.#redis.eval(RECORD, 1, this.key(identifierOrUserId),
      String(o.freeFailures), String(o.baseDelay * 1000), String(o.maxDelay * 1000), String(o.window * 1000)))
    return Math.ceil(delay / 1000)
  }

  async reset (identifierOrUserId: string): Promise<void> {
    await this.#redis.del(this.key(identifierOrUserId))
  }

  /**
   * Runs a password check for `identifier` under the throttle: refused while backing off,
   * a wrong password (INVALID_CREDENTIALS) counts, a success resets. Other errors (an
   * unverified or disabled account, Redis down) neither count nor reset.
   */
  async guard<T>(identifier: string | undefined, attempt: () => Promise<T>): Promise<T> {
    if (identifier === undefined) return await attempt()
    await this.assertAllowed(identifier)
    let result: T
    try {
      result = await attempt()
    } catch (err) {
      if (err instanceof AuthError && err.code === 'INVALID_CREDENTIALS') await this.recordFailure(identifier)
      throw err
    }
    await this.reset(identifier)
    return result
  }
}
