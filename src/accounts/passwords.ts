import argon2 from 'argon2'
import zxcvbnCommon from '@zxcvbn-ts/language-common'
import { validationError } from '../http/errors.js'

export interface HasherOptions {
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane. */
export const OWASP_ARGON2: HasherOptions = { memoryCost: 19456, timeCost: 2, parallelism: 1 }

export const PASSWORD_MIN = 8
export const PASSWORD_MAX = 128

/**
 * Argon2id hashing with a dummy hash of the same parameters, so that a login for an
 * unknown account costs as much as one for a known account.
 */
export class PasswordHasher {
  readonly options: HasherOptions
  #dummy: Promise<string>

  constructor (options: HasherOptions = OWASP_ARGON2) {
    this.options = options
    this.#dummy = this.hash(`dummy-${Math.random()}`)
  }

  hash (password: string): Promise<string> {
    return argon2.hash(normalizePassword(password), { type: argon2.argon2id, ...this.options })
  }

  async verify (hash: string | undefined, password: string): Promise<boolean> {
    // An account made through another identity provider has no password (an empty hash):
    // it fails like a wrong password, after the same Argon2 work.
    const usable = hash !== undefined && hash !== ''
    const target = usable ? hash : await this.#dummy
    try {
      const ok = await argon2.verify(target, normalizePassword(password))
      return ok && usable
    } catch {
      return false
    }
  }

  /** True when the stored hash was made with other parameters and should be replaced. */
  needsRehash (hash: string): boolean {
    return argon2.needsRehash(hash, { ...this.options })
  }
}

/** NFKC, so the same password typed on another keyboard or OS still matches. */
export function normalizePassword (password: string): string {
  return password.normalize('NFKC')
}

const common: Set<string> = new Set(
  (zxcvbnCommon.dictionary['passwords-common'] as string[]).map(p => p.toLowerCase())
)

export const COMMON_PASSWORD_COUNT = common.size

/** Throws a VALIDATION_FAILED error naming `field` when the password breaks the policy. */
export function checkPasswordPolicy (password: string, field = 'password'): void {
  const normalized = normalizePassword(password)
  const length = [...normalized].length
  if (length < PASSWORD_MIN) throw validationError(field, `must be at least ${PASSWORD_MIN} characters`)
  if (length > PASSWORD_MAX) throw validationError(field, `must be at most ${PASSWORD_MAX} characters`)
  // A lone surrogate becomes U+FFFD in UTF-8, so distinct passwords would hash the same.
  if (/\p{Cs}/u.test(normalized)) throw validationError(field, 'must be valid Unicode text')
  if (common.has(normalized.toLowerCase())) throw validationError(field, 'is too common; choose a less guessable password')
}
