import { createHash, randomBytes } from 'node:crypto'
import type { RedisClient } from '../redis/client.js'

export const BACKUP_CODE_COUNT = 10

// Crockford's Base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand
// survives; normalisation maps the look-alikes back.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** 16 symbols of 5 bits = 80 random bits, shown as XXXX-XXXX-XXXX-XXXX. */
export function newBackupCode (): string {
  const bytes = randomBytes(16)
  let s = ''
  for (let i = 0; i < 16; i++) s += ALPHABET[bytes[i] & 31]
  return s.match(/.{4}/g)!.join('-')
}

/** Upper-case, no spaces or dashes, look-alike letters mapped: the form that is hashed. */
export function normalizeBackupCode (code: string): string | null {
  const c = code.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0')
  return /^[0-9A-HJKMNP-TV-Z]{16}$/.test(c) ? c : null
}

/*
 * SHA-256 rather than Argon2: a backup code carries 80 random bits, so no dictionary or
 * brute force over the hash is feasible (2^80 SHA-256 evaluations), unlike a password.
 * A fast hash also lets a code be found by its digest with one SREM.
 */
export function hashBackupCode (normalized: string): string {
  return createHash('sha256').update(`gatehouse-backup:${normalized}`).digest('base64url')
}

/**
 * A user's backup codes as a set of digests at <prefix>user:{id}:backup-codes. Spending
 * one is SREM, which Redis runs alone: of two concurrent uses of one code, one succeeds.
 */
export class BackupCodes {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  key (userId: string): string { return `${this.#prefix}user:{${userId}}:backup-codes` }

  /** A new set replacing the old one; the codes are returned once and never stored. */
  async regenerate (userId: string): Promise<string[]> {
    const codes = new Set<string>()
    while (codes.size < BACKUP_CODE_COUNT) codes.add(newBackupCode())
    const list = [...codes]
    const key = this.key(userId)
    await this.#redis.multi()
      .del(key)
      .sadd(key, ...list.map(c => hashBackupCode(normalizeBackupCode(c)!)))
      .exec()
    return list
  }

  async consume (userId: string, code: string): Promise<boolean> {
    const normalized = normalizeBackupCode(code)
    if (normalized === null) return false
    return await this.#redis.srem(this.key(userId), hashBackupCode(normalized)) === 1
  }

  async remaining (userId: string): Promise<number> {
    return await this.#redis.scard(this.key(userId))
  }

  async remove (userId: string): Promise<void> {
    await this.#redis.del(this.key(userId))
  }
}
