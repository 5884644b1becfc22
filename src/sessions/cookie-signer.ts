import { Signer } from '@fastify/cookie'

type UnsignResult = ReturnType<Signer['unsign']>

/** Verified ids kept at most; past it the memory starts over (a miss only costs one HMAC). */
const REMEMBERED = 4096

/**
 * The cookie signer handed to @fastify/session. For every request with a session cookie,
 * @fastify/session verifies the cookie's signature (unsign) and then, once the store has
 * answered, signs the same id again to rebuild the same cookie value: two HMACs where one
 * decides. This signer remembers the cookie values it has just verified with the current
 * key and hands them back for the same id. The answers are those of @fastify/cookie's
 * Signer: HMAC signing is deterministic, and a value verified with an older key (`renew`)
 * is never remembered, so it is signed anew with the current one.
 */
export class RememberingSigner {
  readonly #signer: Signer
  readonly #verified = new Map<string, string>()

  constructor (secrets: string | string[]) {
    this.#signer = new Signer(secrets)
  }

  sign (value: string): string {
    return this.#verified.get(value) ?? this.#signer.sign(value)
  }

  unsign (signed: string): UnsignResult {
    const result = this.#signer.unsign(signed)
    if (result.valid && !result.renew && result.value !== null) {
      if (this.#verified.size >= REMEMBERED) this.#verified.clear()
      this.#verified.set(result.value, signed)
    }
    return result
  }
}
