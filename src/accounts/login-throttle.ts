import type { RedisClient } from '../redis/client.js'
import { AuthError } from '../http/errors.js'
import { digest } from '../crypto/secrets.js'

export interface LoginThrottleOptions {
  /** key prefix, e.g. `gh:` */
  prefix: string
  /**
   * The account a login identifier names (its user id), or null. With it, an email and a
   * username of one account, and the second-factor checks keyed by user id, share one budget.
   */
  resolve?: (identifier: string) => Promise<string | null>
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

/*
 * Reserves one attempt before the secret is checked, in the same script that decides whether
 * the subject may try now: a burst of attempts in flight is counted as it arrives, so only
 * the free ones are evaluated and the rest are refused, however many come at once. Each
 * reservation counts as a failure until the caller settles it (a success deletes the
 * hash, an attempt that tested no secret is refunded). ARGV[1] names the budget's fields:
 * '' for the account's shared budget, 'd:<digest>:' for a known device's own budget.
 * Returns {1, ms left} when refused, {0, failures counted} when reserved.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nf, uf = ARGV[1] .. 'n', ARGV[1] .. 'until'
local u = tonumber(redis.call('HGET', KEYS[1], uf) or '0')
if u > now then return {1, u - now} end
local n = redis.call('HINCRBY', KEYS[1], nf, 1)
local free = tonumber(ARGV[2])
local delay = 0
if n >= free then
  delay = math.min(tonumber(ARGV[3]) * 2 ^ math.min(n - free, 30), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], uf, now + delay)
end
local keep = delay + tonumber(ARGV[5])
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return {0, n}
`

/*
 * Gives back a reservation whose attempt was no failure (it tested no secret, or the secret
 * was right with a second factor to come). ARGV[1] as in RESERVE, ARGV[2] the free failures:
 * back under them, the wait the reservation may have started is lifted too.
 */
const REFUND = `
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. 'n') or '0')
if n > 0 then n = redis.call('HINCRBY', KEYS[1], ARGV[1] .. 'n', -1) end
if n < tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], ARGV[1] .. 'until') end
return n
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

  /** The subject a login identifier is counted under: its account if it names one. */
  async subjectOf (identifier: string): Promise<string> {
    const resolve = this.#opts.resolve
    const id = resolve === undefined ? null : await resolve(identifier)
    return id ?? identifier
  }

  /**
   * Reserves one attempt for the subject (on a known device's own budget when `device` is
   * given) or throws RATE_LIMITED. Returns how to settle it.
   */
  async reserve (subject: string, device?: string): Promise<{ fields: string, key: string }> {
    const o = this.#opts
    const key = this.key(subject)
    const fields = device === undefined ? '' : `d:${digest(device)}:`
    const [refused, value] = await this.#redis.eval(RESERVE, 1, key, fields, String(o.freeFailures), String(o.baseDelay * 1000), String(o.maxDelay * 1000), String(o.window * 1000)) as [number, number]
    if (refused === 1) {
      const wait = Math.max(1, Math.ceil(value / 1000))
      throw new AuthError('RATE_LIMITED', `Too many failed attempts; try again in ${wait} seconds.`, { retryAfter: wait })
    }
    return { fields, key }
  }

  /**
   * Runs a secret check for `identifier` under the throttle. The attempt is reserved before
   * the check (see RESERVE): refused while backing off, a wrong secret (INVALID_CREDENTIALS,
   * INVALID_MFA_CODE) stays counted, a success resets the account's budget. Other errors (an
   * unverified or disabled account, Redis down) are refunded. `device` reads the request's
   * device cookie for the account tried (src/accounts/device-cookie.ts): with a valid one the
   * attempt spends that device's own budget, so others' failures cannot lock its owner out.
   * `completes` says whether a success finishes the sign-in (and so resets the budget).
   */
  async guard<T>(identifier: string | undefined, attempt: () => Promise<T>, device?: (userId: string) => string | undefined, completes: (result: T) => boolean = () => true): Promise<T> {
    if (identifier === undefined) return await attempt()
    const subject = await this.subjectOf(identifier)
    const reservation = await this.reserve(subject, device?.(subject))
    let result: T
    try {
      result = await attempt()
    } catch (err) {
      if (!(err instanceof AuthError && (err.code === 'INVALID_CREDENTIALS' || err.code === 'INVALID_MFA_CODE'))) {
        await this.#redis.eval(REFUND, 1, reservation.key, reservation.fields, String(this.#opts.freeFailures)).catch(() => {})
      }
      throw err
    }
    // A right password with a second factor still to come is not a sign-in: the budget
    // (which the second factor's failures share) is reset only when the sign-in completes;
    // until then the reservation is given back, as the password was no failure.
    if (completes(result)) await this.reset(subject)
    else await this.#redis.eval(REFUND, 1, reservation.key, reservation.fields, String(this.#opts.freeFailures))
    return result
  }
}
