import type { RedisClient } from '../redis/client.js'
import { AuthError } from '../http/errors.js'
import { digest } from '../crypto/secrets.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

export interface LoginThrottleOptions {
  /** key prefix, e.g. `gh:` */
  prefix: string
  /** failures allowed before any delay */
  freeFailures: number
  /** delay after the first failure beyond the free ones; it doubles with each further failure */
  baseDelayMs: number
  /** the delay never grows beyond this: there is no permanent lock */
  maxDelayMs: number
  /** the count is forgotten this long after the last failure */
  windowMs: number
}

export const DEFAULT_THROTTLE: Omit<LoginThrottleOptions, 'prefix'> = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 900_000, windowMs: 3_600_000 }

/*
 * One hash per subject: `n` failures so far, `until` the Redis time (ms) before which no
 * attempt is taken. Redis time, not the caller's clock, so every process agrees. The
 * script runs alone in Redis, so concurrent failures from many processes are all counted.
 */
const RECORD_FAILURE: LuaScript = {
  keys: ['subjectKey'],
  argv: ['freeFailures', 'baseDelayMs', 'maxDelayMs', 'windowMs'],
  lua: `
-- the subject's hash { n, until }
local subjectKey = KEYS[1]
-- failures allowed before any delay
local freeFailures = tonumber(ARGV[1])
-- delay at the first failure beyond the free ones, doubled with each further one
local baseDelayMs = tonumber(ARGV[2])
-- the delay never grows beyond this
local maxDelayMs = tonumber(ARGV[3])
-- the count is forgotten this long after the last delay runs out
local windowMs = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('HINCRBY', subjectKey, 'n', 1)
local delay = 0
if n >= freeFailures then
  delay = math.min(baseDelayMs * 2 ^ math.min(n - freeFailures, 30), maxDelayMs)
  redis.call('HSET', subjectKey, 'until', now + delay)
end
redis.call('PEXPIRE', subjectKey, delay + windowMs)
return delay
`
}

/* Milliseconds the subject must still wait, by Redis time; 0 when it may try now. */
const WAIT_LEFT: LuaScript = {
  keys: ['subjectKey'],
  argv: [],
  lua: `
-- the subject's hash { n, until }
local subjectKey = KEYS[1]
local u = redis.call('HGET', subjectKey, 'until')
if not u then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = tonumber(u) - now
if left < 0 then return 0 end
return left
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseLoginRecordFailure: (subjectKey: string, freeFailures: number, baseDelayMs: number, maxDelayMs: number, windowMs: number) => Promise<number>
    gatehouseLoginWaitLeft: (subjectKey: string) => Promise<number>
  }
}

/**
 * Per-account back-off after failed sign-ins: `freeFailures` failures cost nothing, then
 * each further failure makes the next attempt wait `baseDelayMs * 2^k`, capped at
 * `maxDelayMs`. The subject is the normalised login identifier (or a user id), never
 * whether it names an account, so an unknown address is throttled exactly like a known
 * one and the 429 tells an attacker nothing. A success resets the count.
 */
export class LoginThrottle {
  readonly #redis: RedisClient
  readonly #opts: LoginThrottleOptions

  constructor (redis: RedisClient, opts: Partial<LoginThrottleOptions> & { prefix: string }) {
    this.#redis = redis
    this.#opts = { ...DEFAULT_THROTTLE, ...opts }
    defineScripts(redis, { gatehouseLoginRecordFailure: RECORD_FAILURE, gatehouseLoginWaitLeft: WAIT_LEFT })
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

  /** Milliseconds the subject must still wait; 0 when an attempt may be made now. */
  async check (subject: string): Promise<number> {
    return Math.max(0, Number(await this.#redis.gatehouseLoginWaitLeft(this.key(subject))))
  }

  /** Throws RATE_LIMITED (with retryAfter) while the subject is backing off. */
  async assertAllowed (subject: string): Promise<void> {
    const waitMs = await this.check(subject)
    // Retry-After speaks whole seconds; rounding up never invites an attempt that is refused.
    const wait = Math.ceil(waitMs / 1000)
    if (wait > 0) throw new AuthError('RATE_LIMITED', `Too many failed attempts; try again in ${wait} seconds.`, { retryAfter: wait })
  }

  /**
   * Counts one failure (a wrong password, a wrong MFA code) against a login identifier
   * or a user id; returns the milliseconds the next attempt must wait.
   */
  async recordFailure (identifierOrUserId: string): Promise<number> {
    const o = this.#opts
    return Number(await this.#redis.gatehouseLoginRecordFailure(this.key(identifierOrUserId),
      o.freeFailures, o.baseDelayMs, o.maxDelayMs, o.windowMs))
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
