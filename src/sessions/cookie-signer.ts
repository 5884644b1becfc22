import { Signer } from '@fastify/cookie'

type UnsignResult = ReturnType<Signer['unsign']>

/** Verified cookies kept at most; past it the memory starts over (a miss only costs one HMAC). */
const REMEMBERED = 4096

/**
 * The cookie signer handed to @fastify/session. For every request with a session cookie,
 * @fastify/session verifies the cookie's signature (unsign) and then, once the store has
 * answered, signs the same id again to rebuild the same cookie value: two HMACs per
 * request, for a cookie that is the same on every request of the session. This signer
 * remembers the cookie values it has verified with the current key, both ways: a cookie
 * seen before is valid without a new HMAC, and its id signs to it. The answers are those
 * of @fastify/cookie's Signer: HMAC signing is deterministic, only an exact cookie value
 * that verified is remembered, and a value verified with an older key (`renew`) never is,
 * so it is signed anew with the current one.
 */
export class RememberingSigner {
  readonly #signer: Signer
  /** session id → its cookie value */
  readonly #signed = new Map<string, string>()
  /** cookie value → its session id */
  readonly #verified = new Map<string, string>()

  constructor (secrets: string | string[]) {
    this.#signer = new Signer(secrets)
  }

  sign (value: string): string {
    return this.#signed.get(value) ?? this.#signer.sign(value)
  }

  unsign (signed: string): UnsignResult {
    const known = this.#verified.get(signed)
    if (known !== undefined) return { valid: true, renew: false, value: known }
    const result = this.#signer.unsign(signed)
    if (result.valid && !result.renew && result.value !== null) {
      if (this.#verified.size >= REMEMBERED) {
        this.#verified.clear()
        this.#signed.clear()
      }
      this.#verified.set(signed, result.value)
      this.#signed.set(result.value, signed)
    }
    return result
  }
}
