import { generateSecret, verify } from 'otplib'
import QRCode from 'qrcode'
import type { CryptoBox } from '../crypto/box.js'
import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

/** RFC 6238 as every authenticator app does it. */
export const TOTP_ALGORITHM = 'SHA1'
export const TOTP_DIGITS = 6
export const TOTP_PERIOD = 30
export const TOTP_ISSUER = 'Gatehouse'
/** A setup not confirmed with a code within this time is forgotten. */
export const PENDING_SETUP_TTL_MS = 600_000

/** A fresh 160-bit secret (RFC 4226 recommends 160), Base32 as authenticator apps want it. */
export function newTotpSecret (): string {
  return generateSecret({ length: 20 })
}

/**
 * The Key URI Format (google-authenticator wiki): otpauth://totp/<issuer>:<account>?secret=
 * &issuer=&algorithm=&digits=&period=. The issuer is given both as the label prefix and as
 * a parameter, as the format recommends; everything is percent-encoded.
 */
export function otpauthUri (accountName: string, secret: string): string {
  const label = `${encodeURIComponent(TOTP_ISSUER)}:${encodeURIComponent(accountName)}`
  const params = new URLSearchParams({
    secret,
    issuer: TOTP_ISSUER,
    algorithm: TOTP_ALGORITHM,
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD)
  })
  return `otpauth://totp/${label}?${params.toString().replace(/\+/g, '%20')}`
}

export async function qrSvg (uri: string): Promise<string> {
  return await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
}

/**
 * The time step a code belongs to, if it is valid now or one step either side (clock drift
 * of an authenticator app), else null. Malformed codes are simply invalid.
 */
export async function matchTotp (secret: string, code: string, nowMs = Date.now()): Promise<number | null> {
  if (!/^[0-9]{6}$/.test(code)) return null
  const epoch = Math.floor(nowMs / 1000)
  try {
    const result = await verify({
      secret,
      token: code,
      algorithm: 'sha1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD,
      epoch,
      // in seconds: with a 30 s period this is exactly one step back and one forward
      epochTolerance: TOTP_PERIOD
    })
    return result.valid ? Math.floor(epoch / TOTP_PERIOD) + result.delta : null
  } catch {
    return null
  }
}

/*
 * Accept a time step only if it is later than the last one accepted for this user. One key
 * per user, compared and set by one script that Redis runs alone, so two processes that
 * check the same code at once cannot both accept it; and an older code cannot be used
 * after a newer one either.
 */
const CLAIM_STEP: LuaScript = {
  keys: ['lastStepKey'],
  argv: ['step', 'keepMs'],
  lua: `
-- the user's last accepted time step (absent: none yet)
local lastStepKey = KEYS[1]
-- the time step the code matched
local step = tonumber(ARGV[1])
-- how long the claim is kept, ms
local keepMs = ARGV[2]
local last = tonumber(redis.call('GET', lastStepKey) or '-1')
if step <= last then return 0 end
redis.call('SET', lastStepKey, step, 'PX', keepMs)
return 1
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseTotpClaimStep: (lastStepKey: string, step: number, keepMs: number) => Promise<number>
  }
}

export type TotpCheck = 'ok' | 'invalid' | 'replayed'

export interface StoredTotp {
  /** the decrypted Base32 secret */
  secret: string
  /** set when it was sealed under an older key */
  reseal: boolean
}

/**
 * The TOTP secrets of users, sealed with the CryptoBox (key id stored inside the sealed
 * value), bound to the user id as associated data. Keys share the user's hash tag:
 *   <prefix>user:{id}:totp          hash { secret, enabledAt }
 *   <prefix>user:{id}:totp:pending  hash { secret, session } a setup awaiting its first code
 *   <prefix>user:{id}:totp:last     the last accepted time step (replay guard)
 */
export class TotpStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #box: CryptoBox

  constructor (redis: RedisClient, prefix: string, box: CryptoBox) {
    this.#redis = redis
    this.#prefix = prefix
    this.#box = box
    defineScripts(redis, { gatehouseTotpClaimStep: CLAIM_STEP })
  }

  key (userId: string): string { return `${this.#prefix}user:{${userId}}:totp` }
  pendingKey (userId: string): string { return `${this.#prefix}user:{${userId}}:totp:pending` }
  lastStepKey (userId: string): string { return `${this.#prefix}user:{${userId}}:totp:last` }

  async savePending (userId: string, secret: string, sessionDigest: string): Promise<void> {
    const key = this.pendingKey(userId)
    await this.#redis.multi()
      .del(key)
      .hset(key, { secret: this.#box.seal(secret, `pending:${userId}`), session: sessionDigest })
      .pexpire(key, PENDING_SETUP_TTL_MS)
      .exec()
  }

  /** The pending secret, only for the session that asked for it. */
  async pending (userId: string, sessionDigest: string): Promise<string | null> {
    const h = await this.#redis.hgetall(this.pendingKey(userId))
    if (h.secret === undefined || h.session !== sessionDigest) return null
    return this.#box.open(h.secret, `pending:${userId}`)
  }

  /** True for the one caller that takes the pending setup (DEL answers 1 once). */
  async claimPending (userId: string): Promise<boolean> {
    return await this.#redis.del(this.pendingKey(userId)) === 1
  }

  async activate (userId: string, secret: string): Promise<void> {
    await this.#redis.multi()
      .del(this.pendingKey(userId))
      .del(this.key(userId))
      .hset(this.key(userId), { secret: this.#box.seal(secret, userId), enabledAt: new Date().toISOString() })
      .exec()
  }

  async load (userId: string): Promise<StoredTotp | null> {
    const sealed = await this.#redis.hget(this.key(userId), 'secret')
    if (sealed === null) return null
    return { secret: this.#box.open(sealed, userId), reseal: this.#box.needsReseal(sealed) }
  }

  /** Seals the secret again under the current key (after a key rotation). */
  async reseal (userId: string, secret: string): Promise<void> {
    await this.#redis.hset(this.key(userId), 'secret', this.#box.seal(secret, userId))
  }

  async remove (userId: string): Promise<void> {
    await this.#redis.del(this.key(userId), this.pendingKey(userId), this.lastStepKey(userId))
  }

  /** Checks a code against a secret and, if it matches, spends its time step. */
  async check (userId: string, secret: string, code: string, nowMs = Date.now()): Promise<TotpCheck> {
    const step = await matchTotp(secret, code, nowMs)
    if (step === null) return 'invalid'
    // Kept for as long as a code of that step could still be presented (step + drift).
    const claimed = await this.#redis.gatehouseTotpClaimStep(this.lastStepKey(userId), step, TOTP_PERIOD * 4 * 1000)
    return claimed === 1 ? 'ok' : 'replayed'
  }

  /** Checks a code against the user's active secret. */
  async checkActive (userId: string, code: string, nowMs = Date.now()): Promise<TotpCheck> {
    const stored = await this.load(userId)
    if (stored === null) return 'invalid'
    const result = await this.check(userId, stored.secret, code, nowMs)
    if (result === 'ok' && stored.reseal) await this.reseal(userId, stored.secret)
    return result
  }
}
