import type { SignInMethod } from '../events/catalogue.js'
import type { RedisClient } from '../redis/client.js'
import { defineScripts } from '../redis/scripts.js'
import { digest, randomToken } from '../crypto/secrets.js'
import { TOKEN_SCRIPTS } from './scripts.js'

export interface TokenStoreOptions {
  prefix: string
  /** access token lifetime, ms */
  accessTtl: number
  /** refresh token lifetime, ms (each rotation issues a new one with a full lifetime) */
  refreshTtl: number
  /** a family's absolute lifetime from its login, ms: refreshing never carries it further (as a cookie session's) */
  absoluteTtl?: number
  /** a family's "last seen" is written at most once per step per access token, ms */
  touchStep?: number
  now?: () => number
}

/** `method`: how the login signed in (absent: a password). */
export interface ClientMeta { ip: string, userAgent: string, method?: SignInMethod }

export interface IssuedTokens {
  accessToken: string
  refreshToken: string
  familyId: string
  /** access token expiry */
  expiresAt: Date
  /** access token lifetime, whole seconds */
  expiresIn: number
}

/** `cv`: the user's credential version the family was begun or last refreshed under. */
export interface AccessGrant { userId: string, familyId: string, expiresAt: Date, cv: number }

export interface TokenFamily {
  familyId: string
  createdAt: number
  lastSeenAt: number
  /** when the family's current refresh token expires */
  expiresAt: number
  ip: string
  userAgent: string
  method: SignInMethod
}

export type RefreshOutcome =
  | { ok: true, userId: string, familyId: string, cv: number }
  | { ok: false, reason: 'unknown' | 'reused', userId?: string, familyId?: string }

/** Prefixes let a client (and a secret scanner) tell the two kinds apart; they carry no data. */
const ACCESS_PREFIX = 'gha_'
const REFRESH_PREFIX = 'ghr_'
const TOKEN_RE = /^gh[ar]_[A-Za-z0-9_-]{43}$/

interface AccessValue { u: string, f: string, e: number, t: number, cv?: number }
interface RefreshValue { u: string, f: string, x: number, cv?: number }

/**
 * Opaque bearer tokens for clients without cookies. A login starts a *family*: one access
 * token (short-lived) and one refresh token; each refresh spends the refresh token and
 * issues a new pair in the same family. Redis holds only SHA-256 digests of tokens.
 *
 * Keys: `at:<digest>` and `rt:<digest>` are looked up by the token alone (one key each,
 * whatever their cluster slot); the family hash `user:{<id>}:tf:<familyId>` and the user's
 * family index `user:{<id>}:tokens` share the user's hash tag, so the scripts that touch
 * them together stay in one slot. The family hash lists its live access tokens and its
 * current refresh token, so ending a family deletes every token that can still be used.
 */
export class TokenStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly accessTtl: number
  readonly refreshTtl: number
  readonly absoluteTtl: number
  readonly #step: number
  readonly #now: () => number

  constructor (redis: RedisClient, options: TokenStoreOptions) {
    this.#redis = redis
    this.#prefix = options.prefix
    this.accessTtl = options.accessTtl
    this.refreshTtl = options.refreshTtl
    this.absoluteTtl = options.absoluteTtl ?? Number.POSITIVE_INFINITY
    this.#step = options.touchStep ?? 60_000
    this.#now = options.now ?? Date.now
    defineScripts(redis, TOKEN_SCRIPTS)
  }

  accessKey (d: string): string { return `${this.#prefix}at:${d}` }
  refreshKey (d: string): string { return `${this.#prefix}rt:${d}` }
  familyKey (userId: string, familyId: string): string { return `${this.#prefix}user:{${userId}}:tf:${familyId}` }
  indexKey (userId: string): string { return `${this.#prefix}user:{${userId}}:tokens` }

  static isWellFormed (token: string, kind: 'access' | 'refresh'): boolean {
    return TOKEN_RE.test(token) && token.startsWith(kind === 'access' ? ACCESS_PREFIX : REFRESH_PREFIX)
  }

  /** Starts a new family for a login. */
  async issue (userId: string, meta: ClientMeta, cv = 0): Promise<IssuedTokens> {
    const familyId = randomToken(16)
    const now = this.#now()
    const minted = await this.#mint(userId, familyId, now, cv)
    await this.#redis.gatehouseFamilyAttach(this.familyKey(userId, familyId), this.indexKey(userId),
      'create', familyId, now, minted.accessDigest, minted.accessExp, minted.refreshDigest, minted.refreshExp,
      meta.ip, meta.userAgent.slice(0, 256), '', meta.method ?? '')
    return minted.issued
  }

  /**
   * Spends a refresh token. A live one: the caller may rotate (see `rotate`). A spent one:
   * somebody holds a copy, so the whole family is ended before answering.
   */
  async spend (refreshToken: string): Promise<RefreshOutcome> {
    if (!TokenStore.isWellFormed(refreshToken, 'refresh')) return { ok: false, reason: 'unknown' }
    const r = await this.#redis.gatehouseRefreshSpend(this.refreshKey(digest(refreshToken)))
    if (r === null) return { ok: false, reason: 'unknown' }
    const v = JSON.parse(r[1]) as RefreshValue
    if (r[0] === 'spent') {
      await this.endFamily(v.u, v.f)
      return { ok: false, reason: 'reused', userId: v.u, familyId: v.f }
    }
    return { ok: true, userId: v.u, familyId: v.f, cv: v.cv ?? 0 }
  }

  /** Issues the next pair of a family whose refresh token `spentToken` was just spent; null if the family has ended. */
  async rotate (userId: string, familyId: string, spentToken: string, cv = 0): Promise<IssuedTokens | null> {
    const now = this.#now()
    // The absolute lifetime counts from the login that began the family, whatever the refreshes.
    const created = Number(await this.#redis.hget(this.familyKey(userId, familyId), 'c'))
    if (!Number.isFinite(created) || created <= 0 || now >= created + this.absoluteTtl) {
      await this.endFamily(userId, familyId)
      return null
    }
    const minted = await this.#mint(userId, familyId, now, cv, created)
    // The new keys exist before the family lists them; if the family ended in between (or
    // ends now), the script refuses and the new keys are deleted here, so none survives.
    const ok = await this.#redis.gatehouseFamilyAttach(this.familyKey(userId, familyId), this.indexKey(userId),
      'rotate', familyId, now, minted.accessDigest, minted.accessExp, minted.refreshDigest, minted.refreshExp,
      '', '', digest(spentToken))
    if (ok === 1) return minted.issued
    await Promise.all([this.#redis.del(this.accessKey(minted.accessDigest)), this.#redis.del(this.refreshKey(minted.refreshDigest))])
    return null
  }

  /** Who an access token belongs to; null when it is malformed, unknown, expired or revoked. */
  async authenticate (accessToken: string): Promise<AccessGrant | null> {
    if (!TokenStore.isWellFormed(accessToken, 'access')) return null
    const now = this.#now()
    const r = await this.#redis.gatehouseAccessRead(this.accessKey(digest(accessToken)), now, this.#step)
    if (r === null) return null
    const v = JSON.parse(r[0]) as AccessValue
    if (v.e <= now) return null
    if (r[1] === 1) await this.#redis.gatehouseFamilyTouch(this.familyKey(v.u, v.f), now)
    return { userId: v.u, familyId: v.f, expiresAt: new Date(v.e), cv: v.cv ?? 0 }
  }

  /**
   * Records that the family was the one a credential change was made with: its tokens,
   * minted under the old version, stay good (familyCredentials) until the next refresh
   * mints them under the new one.
   */
  async setFamilyCredentials (userId: string, familyId: string, cv: number): Promise<void> {
    await this.#redis.gatehouseFamilySetCv(this.familyKey(userId, familyId), String(cv))
  }

  /** The credential version recorded by setFamilyCredentials, or null. */
  async familyCredentials (userId: string, familyId: string): Promise<number | null> {
    const cv = await this.#redis.hget(this.familyKey(userId, familyId), 'cv')
    return cv === null ? null : Number(cv)
  }

  /** Ends one family: every access and refresh token of that login. False if there was none. */
  async endFamily (userId: string, familyId: string): Promise<boolean> {
    const tokens = await this.#redis.gatehouseFamilyEnd(this.familyKey(userId, familyId), this.indexKey(userId), familyId)
    // One key per command: token keys live in other cluster slots than the family.
    await Promise.all(tokens.map(async t => await this.#redis.del(t[0] === 'a' ? this.accessKey(t.slice(1)) : this.refreshKey(t.slice(1)))))
    return tokens.length > 0
  }

  /** Ends every family of a user except, optionally, `keep`. Cost O(families of that user). */
  async endAllForUser (userId: string, keep?: string): Promise<number> {
    const ids = (await this.#redis.zrange(this.indexKey(userId), 0, -1)).filter(f => f !== keep)
    const ended = await Promise.all(ids.map(async f => await this.endFamily(userId, f)))
    return ended.filter(Boolean).length
  }

  /** Live families of a user; prunes index entries of families that have expired. */
  async listForUser (userId: string): Promise<TokenFamily[]> {
    const index = this.indexKey(userId)
    const now = this.#now()
    await this.#redis.zremrangebyscore(index, '-inf', now)
    const ids = await this.#redis.zrange(index, 0, -1)
    const rows = await Promise.all(ids.map(async f => await this.#redis.hmget(this.familyKey(userId, f), 'c', 'l', 'e', 'ip', 'ua', 'm')))
    const dead = ids.filter((_, i) => rows[i][0] === null)
    if (dead.length > 0) await this.#redis.zrem(index, ...dead)
    const out: TokenFamily[] = []
    ids.forEach((familyId, i) => {
      const [c, l, e, ip, ua, m] = rows[i]
      if (c === null) return
      const method = m === 'passkey' || m === 'email_code' || m === 'provider' ? m : 'password'
      out.push({ familyId, createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e), ip: ip ?? '', userAgent: ua ?? '', method })
    })
    return out
  }

  async #mint (userId: string, familyId: string, now: number, cv: number, createdAt = now): Promise<{ issued: IssuedTokens, accessDigest: string, accessExp: number, refreshDigest: string, refreshExp: number }> {
    const accessToken = ACCESS_PREFIX + randomToken(32)
    const refreshToken = REFRESH_PREFIX + randomToken(32)
    const accessDigest = digest(accessToken)
    const refreshDigest = digest(refreshToken)
    const end = createdAt + this.absoluteTtl
    const accessExp = Math.min(now + this.accessTtl, end)
    const refreshExp = Math.min(now + this.refreshTtl, end)
    const access: AccessValue = { u: userId, f: familyId, e: accessExp, t: now, cv }
    const refresh: RefreshValue = { u: userId, f: familyId, x: 0, cv }
    await Promise.all([
      this.#redis.set(this.accessKey(accessDigest), JSON.stringify(access), 'PX', Math.max(1, accessExp - now)),
      this.#redis.set(this.refreshKey(refreshDigest), JSON.stringify(refresh), 'PX', Math.max(1, refreshExp - now))
    ])
    return {
      issued: { accessToken, refreshToken, familyId, expiresAt: new Date(accessExp), expiresIn: Math.round((accessExp - now) / 1000) },
      accessDigest,
      accessExp,
      refreshDigest,
      refreshExp
    }
  }
}
