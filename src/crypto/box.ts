import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM for data that must be read back (TOTP secrets), under a key ring from
 * configuration. Every sealed value names the id of the key that sealed it, so the current
 * key can change while values sealed under older keys stay readable; `needsReseal` tells
 * the caller to seal such a value again under the current key.
 *
 * Format (ASCII, one Redis field): `v1.<kid>.<iv>.<ciphertext>.<tag>`, base64url parts,
 * 96-bit random IV (NIST SP 800-38D), 128-bit tag. An "associated data" string (the user id)
 * is authenticated with it, so a sealed secret copied to another user's record does not open.
 */
export interface KeyRing {
  /** id of the key new values are sealed with */
  currentKid: string
  keys: ReadonlyMap<string, Buffer>
}

const KID_RE = /^[A-Za-z0-9_-]{1,32}$/

/** A stable id for a key given without one: a short fingerprint that reveals nothing usable. */
export function keyFingerprint (key: Buffer): string {
  return createHash('sha256').update('gatehouse-kid:').update(key).digest('base64url').slice(0, 8)
}

function decodeKey (text: string): Buffer {
  const t = text.trim()
  let key: Buffer | null = null
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex')
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (key?.length !== 32) throw new Error('each key must be 32 bytes, written as 64 hex digits or base64')
  return key
}

/**
 * Parses `DATA_ENCRYPTION_KEY`: one key, or a comma-separated ring `kid:key,kid:key,...`
 * whose first entry seals and all entries open. A key given without `kid:` gets its
 * fingerprint as id. Error messages never contain key material.
 */
export function parseKeyRing (text: string): KeyRing {
  const keys = new Map<string, Buffer>()
  let currentKid: string | undefined
  for (const entry of text.split(',')) {
    const e = entry.trim()
    if (e === '') throw new Error('empty entry in the key list')
    const colon = e.indexOf(':')
    const key = decodeKey(colon === -1 ? e : e.slice(colon + 1))
    const kid = colon === -1 ? keyFingerprint(key) : e.slice(0, colon)
    if (!KID_RE.test(kid)) throw new Error('a key id must be 1 to 32 letters, digits, "_" or "-"')
    if (keys.has(kid)) throw new Error(`key id ${kid} appears twice`)
    keys.set(kid, key)
    currentKid ??= kid
  }
  if (currentKid === undefined) throw new Error('no key given')
  return { currentKid, keys }
}

/** A ring of one random key: what development gets when no key is configured. */
export function ephemeralKeyRing (): KeyRing {
  const key = randomBytes(32)
  const kid = `dev-${keyFingerprint(key)}`
  return { currentKid: kid, keys: new Map([[kid, key]]) }
}

export class CryptoBoxError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'CryptoBoxError'
  }
}

export class CryptoBox {
  readonly #ring: KeyRing

  constructor (ring: KeyRing) {
    if (!ring.keys.has(ring.currentKid)) throw new Error('the current key id is not in the ring')
    this.#ring = ring
  }

  get currentKid (): string { return this.#ring.currentKid }

  seal (plaintext: string, associatedData: string): string {
    const kid = this.#ring.currentKid
    const key = this.#ring.keys.get(kid) as Buffer
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    cipher.setAAD(Buffer.from(`${kid}|${associatedData}`))
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', kid, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
  }

  /** Throws CryptoBoxError when the key id is unknown or the value was altered. */
  open (sealed: string, associatedData: string): string {
    const parts = sealed.split('.')
    if (parts.length !== 5 || parts[0] !== 'v1') throw new CryptoBoxError('not a sealed value')
    const [, kid, iv, ct, tag] = parts
    const key = this.#ring.keys.get(kid)
    if (key === undefined) throw new CryptoBoxError(`no key with id ${kid} is configured`)
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
      decipher.setAAD(Buffer.from(`${kid}|${associatedData}`))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      throw new CryptoBoxError('the sealed value does not authenticate')
    }
  }

  kidOf (sealed: string): string | undefined {
    const parts = sealed.split('.')
    return parts.length === 5 ? parts[1] : undefined
  }

  /** True when the value was sealed under a key other than the current one. */
  needsReseal (sealed: string): boolean {
    return this.kidOf(sealed) !== this.#ring.currentKid
  }
}
