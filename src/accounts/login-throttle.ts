import type { RedisClient } from '../redis/client.js'
import { AuthError } from '../http/errors.js'
import { digest } from '../crypto/secrets.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

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
  /** delay after the first failure beyond the free ones; it doubles with each further failure */
  baseDelayMs: number
  /** the delay never grows beyond this: there is no permanent lock */
  maxDelayMs: number
  /** the count is forgotten this long after the last failure */
  windowMs: number
}

export const DEFAULT_THROTTLE: Omit<LoginThrottleOptions, 'prefix'> = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 900_000, windowMs: 3_600_000 }

/*
 * Reserves one attempt before the secret is checked, in the same script that decides whether
 * the subject may try now: a burst of attempts in flight is counted as it arrives, so only
 * the free ones are evaluated and the rest are refused, however many come at once. Each
 * reservation counts as a failure until the caller settles it (a success deletes the hash,
 * an attempt that was no failure is refunded). `until` is Redis time, not a caller's clock,
 * so every process agrees. Returns {1, ms left} when refused, {0, failures counted} when
 * reserved.
 */
const RESERVE: LuaScript = {
  keys: ['subjectKey'],
  argv: ['fields', 'freeFailures', 'baseDelayMs', 'maxDelayMs', 'windowMs'],
  lua: `
-- the subject's hash { n, until, d:<device>:n, d:<device>:until }
local subjectKey = KEYS[1]
-- the budget's field prefix: '' for the account's shared budget, 'd:<digest>:' for a known device's own
local fields = ARGV[1]
-- failures allowed before any delay
local freeFailures = tonumber(ARGV[2])
-- delay at the first failure beyond the free ones, doubled with each further one
local baseDelayMs = tonumber(ARGV[3])
-- the delay never grows beyond this
local maxDelayMs = tonumber(ARGV[4])
-- the count is forgotten this long after the last delay runs out
local windowMs = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = tonumber(redis.call('HGET', subjectKey, fields .. 'until') or '0')
if u > now then return {1, u - now} end
local n = redis.call('HINCRBY', subjectKey, fields .. 'n', 1)
local delay = 0
if n >= freeFailures then
  delay = math.min(baseDelayMs * 2 ^ math.min(n - freeFailures, 30), maxDelayMs)
  redis.call('HSET', subjectKey, fields .. 'until', now + delay)
end
local keep = delay + windowMs
if redis.call('PTTL', subjectKey) < keep then redis.call('PEXPIRE', subjectKey, keep) end
return {0, n}
`
}

/*
 * Gives back a reservation whose attempt was no failure (it tested no secret, or the secret
 * was right with a second factor to come); back under the free failures, the wait the
 * reservation may have started is lifted too. Returns the failures left counted.
 */
const REFUND: LuaScript = {
  keys: ['subjectKey'],
  argv: ['fields', 'freeFailures'],
  lua: `
-- the subject's hash, as in RESERVE
local subjectKey = KEYS[1]
-- the budget's field prefix, as in RESERVE
local fields = ARGV[1]
-- failures allowed before any delay
local freeFailures = tonumber(ARGV[2])
local n = tonumber(redis.call('HGET', subjectKey, fields .. 'n') or '0')
if n > 0 then n = redis.call('HINCRBY', subjectKey, fields .. 'n', -1) end
if n < freeFailures then redis.call('HDEL', subjectKey, fields .. 'until') end
return n
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseLoginReserve: (subjectKey: string, fields: string, freeFailures: number, baseDelayMs: number, maxDelayMs: number, windowMs: number) => Promise<[number, number]>
    gatehouseLoginRefund: (subjectKey: string, fields: string, freeFailures: number) => Promise<number>
  }
}

/** A wrong secret for a known account, as `guard` reports it. */
export interface FailedAttempt {
  userId: string
  /** failures counted on the budget spent (the account's, or a known device's own) */
  failures: number
  /** this failure made further attempts wait */
  backoffStarted: boolean
  /** the attempt came with a valid device cookie of the account */
  device: boolean
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
    defineScripts(redis, { gatehouseLoginReserve: RESERVE, gatehouseLoginRefund: REFUND })
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
  async reserve (subject: string, device?: string): Promise<{ fields: string, key: string, failures: number }> {
    const o = this.#opts
    const key = this.key(subject)
    const fields = device === undefined ? '' : `d:${digest(device)}:`
    const [refused, value] = await this.#redis.gatehouseLoginReserve(key, fields, o.freeFailures, o.baseDelayMs, o.maxDelayMs, o.windowMs)
    if (refused === 1) {
      const wait = Math.max(1, Math.ceil(value / 1000))
      throw new AuthError('RATE_LIMITED', `Too many failed attempts; try again in ${wait} seconds.`, { retryAfter: wait })
    }
    return { fields, key, failures: value }
  }

  /**
   * Runs a secret check for `identifier` under the throttle. The attempt is reserved before
   * the check (see RESERVE): refused while backing off, a wrong secret (INVALID_CREDENTIALS,
   * INVALID_MFA_CODE) stays counted, a success resets the account's budget. Other errors (an
   * unverified or disabled account, Redis down) are refunded. `device` reads the request's
   * device cookie for the account tried (src/accounts/device-cookie.ts): with a valid one the
   * attempt spends that device's own budget, so others' failures cannot lock its owner out.
   * `completes` says whether a success finishes the sign-in (and so resets the budget).
   * `failed` hears of each wrong secret that stays counted against an account `identifier`
   * resolved to (for the security events).
   */
  async guard<T>(identifier: string | undefined, attempt: (accountId?: string) => Promise<T>, device?: (userId: string) => string | undefined, completes: (result: T) => boolean = () => true, failed?: (failure: FailedAttempt) => Promise<void>): Promise<T> {
    if (identifier === undefined) return await attempt()
    const subject = await this.subjectOf(identifier)
    // The account the identifier resolved to, so the check need not look it up again.
    const account = subject !== identifier ? subject : undefined
    return await this.#guarded(subject, account, attempt, device, completes, failed)
  }

  /**
   * `guard` for a sign-in that names its account by id (a passkey's credential does): the
   * account's budget, and its failures are the account's to hear of, as a password's are.
   */
  async guardAccount<T>(userId: string, attempt: () => Promise<T>, device?: (userId: string) => string | undefined, completes: (result: T) => boolean = () => true, failed?: (failure: FailedAttempt) => Promise<void>): Promise<T> {
    return await this.#guarded(userId, userId, attempt, device, completes, failed)
  }

  async #guarded<T>(subject: string, account: string | undefined, attempt: (accountId?: string) => Promise<T>, device: ((userId: string) => string | undefined) | undefined, completes: (result: T) => boolean, failed: ((failure: FailedAttempt) => Promise<void>) | undefined): Promise<T> {
    const known = device?.(subject)
    const reservation = await this.reserve(subject, known)
    let result: T
    try {
      result = await attempt(account)
    } catch (err) {
      if (!(err instanceof AuthError && (err.code === 'INVALID_CREDENTIALS' || err.code === 'INVALID_MFA_CODE'))) {
        await this.#redis.gatehouseLoginRefund(reservation.key, reservation.fields, this.#opts.freeFailures).catch(() => {})
      } else if (failed !== undefined && account !== undefined) {
        // Only a known account has someone to tell; the reservation that reached the free
        // failures is the one whose failure started the wait (RESERVE counts them in order).
        await failed({ userId: subject, failures: reservation.failures, backoffStarted: reservation.failures === this.#opts.freeFailures, device: known !== undefined })
      }
      throw err
    }
    // A right password with a second factor still to come is not a sign-in: the budget
    // (which the second factor's failures share) is reset only when the sign-in completes;
    // until then the reservation is given back, as the password was no failure.
    if (completes(result)) await this.reset(subject)
    else await this.#redis.gatehouseLoginRefund(reservation.key, reservation.fields, this.#opts.freeFailures)
    return result
  }
}
