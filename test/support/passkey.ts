/*
 * A software authenticator for the server tests: a P-256 key pair from node:crypto, the
 * authenticator data and the "none" attestation built by hand as WebAuthn §6 lays them out,
 * CBOR by the encoder @simplewebauthn ships. It answers the options the server sends with
 * the JSON a browser's startRegistration()/startAuthentication() would, and can be told to
 * lie (origin, RP ID, flags, counter) so the server's refusals can be tested.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url')
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest()

export const TEST_ORIGIN = 'http://localhost:3000'

export interface CeremonyOptions {
  origin?: string
  rpId?: string
  /** user verification (the PIN or biometric); default true */
  uv?: boolean
  /** the counter to sign; default the next one */
  counter?: number
  type?: string
}

interface CreationOptions { challenge: string, rp: { id?: string }, user: { id: string } }
interface RequestOptions { challenge: string, rpId?: string }

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32)
  readonly #privateKey: KeyObject
  readonly #publicKey: KeyObject
  readonly aaguid: Buffer
  /** the signature counter; a synced passkey keeps it at 0 with `countless` */
  counter = 0
  readonly countless: boolean
  userHandle?: string

  constructor (opts: { aaguid?: string, countless?: boolean } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.#privateKey = privateKey
    this.#publicKey = publicKey
    this.aaguid = Buffer.from((opts.aaguid ?? '00000000-0000-0000-0000-000000000000').replace(/-/g, ''), 'hex')
    this.countless = opts.countless ?? false
  }

  get id (): string { return b64u(this.credentialId) }

  #cosePublicKey (): Uint8Array {
    const jwk = this.#publicKey.export({ format: 'jwk' })
    return isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))]
    ]))
  }

  #authData (rpId: string, flags: number, counter: number, attested?: Uint8Array): Buffer {
    const count = Buffer.alloc(4)
    count.writeUInt32BE(counter)
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested === undefined ? [] : [attested])])
  }

  #clientData (type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
  }

  #flags (uv: boolean, attested: boolean): number {
    // UP, UV, and for a synced passkey BE+BS (backup eligible, backed up).
    return 0x01 | (uv ? 0x04 : 0) | (this.countless ? 0x18 : 0) | (attested ? 0x40 : 0)
  }

  /** What startRegistration() answers for these creation options. */
  register (options: CreationOptions, o: CeremonyOptions = {}): Record<string, unknown> {
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(this.credentialId.length)
    const attested = Buffer.concat([this.aaguid, idLength, this.credentialId, this.#cosePublicKey()])
    const authData = this.#authData(o.rpId ?? options.rp.id ?? 'localhost', this.#flags(o.uv ?? true, true), o.counter ?? this.counter, attested)
    const attestationObject = isoCBOR.encode(new Map<string, string | Uint8Array | Map<string, string>>([['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', new Uint8Array(authData)]]))
    this.userHandle = options.user.id
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: { credProps: { rk: true } },
      response: {
        clientDataJSON: b64u(this.#clientData(o.type ?? 'webauthn.create', options.challenge, o.origin ?? TEST_ORIGIN)),
        attestationObject: b64u(attestationObject),
        transports: ['internal']
      }
    }
  }

  /** What startAuthentication() answers for these request options. */
  assert (options: RequestOptions, o: CeremonyOptions = {}): Record<string, unknown> & { response: Record<string, string> } {
    if (!this.countless && o.counter === undefined) this.counter += 1
    const authData = this.#authData(o.rpId ?? options.rpId ?? 'localhost', this.#flags(o.uv ?? true, false), o.counter ?? this.counter)
    const clientDataJSON = this.#clientData(o.type ?? 'webauthn.get', options.challenge, o.origin ?? TEST_ORIGIN)
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.#privateKey)
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(this.userHandle === undefined ? {} : { userHandle: this.userHandle })
      }
    }
  }
}
