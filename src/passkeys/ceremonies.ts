/*
 * The WebAuthn ceremonies, on @simplewebauthn/server: registering a passkey while signed in,
 * signing in with a discoverable one (no identifier typed), and a passkey as the second step
 * of a 2FA login. Every challenge is bound to what asked for it (the session, the pending
 * sign-in, the 2FA challenge) and is taken (deleted) before its answer is checked.
 */
import type { FastifyBaseLogger } from 'fastify'
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON
} from '@simplewebauthn/server'
import { AuthError } from '../http/errors.js'
import { digest, randomToken, safeEqual } from '../crypto/secrets.js'
import type { User, UserRepository } from '../accounts/users.js'
import { authenticatorName } from './authenticators.js'
import type { Passkey, PasskeyChallenges, PasskeyStore } from './store.js'

/*
 * EdDSA, ES256 and RS256: what authenticators use. Named, so the library does not probe the
 * runtime for ML-DSA (an experimental Web Crypto algorithm in Node 24, which warns).
 */
const ALGORITHMS = [-8, -7, -257]

export { REAUTHENTICATE_AFTER_MS } from '../sessions/lifecycle.js'

export interface PasskeyDeps {
  store: PasskeyStore
  challenges: PasskeyChallenges
  users: UserRepository
  rp: { id: string, name: string, origins: string[] }
  log: FastifyBaseLogger
}

/** Runs a passkey check of `userId` under the account's back-off (the login throttle). */
export type Guard = <T>(userId: string, attempt: () => Promise<T>) => Promise<T>

/** What the list shows: never the key or the credential id. */
export interface PublicPasskey {
  id: string
  name: string
  authenticator: string | null
  deviceType: 'singleDevice' | 'multiDevice'
  backedUp: boolean
  createdAt: string
  lastUsedAt: string | null
}

export function publicPasskey (p: Passkey): PublicPasskey {
  return { id: p.id, name: p.name, authenticator: authenticatorName(p.aaguid), deviceType: p.deviceType, backedUp: p.backedUp, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt }
}

const registrationBinding = (userId: string, holder: string): string => `register:${userId}:${holder}`
const signInBinding = (challengeId: string): string => `sign-in:${challengeId}`
const secondFactorBinding = (mfaToken: string): string => `mfa:${mfaToken}`

/** The WebAuthn user handle: the user id's bytes, so a discoverable credential names its account. */
const userHandle = (userId: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(userId, 'utf8'))
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function userIdOf (handle: string | undefined): string | null {
  if (handle === undefined) return null
  const id = Buffer.from(handle, 'base64url').toString('utf8')
  return UUID_RE.test(id) ? id : null
}

const dead = (): AuthError => new AuthError('INVALID_TOKEN', 'This passkey challenge is expired, used or unknown; start again.')
const matches = (stored: string) => (challenge: string): boolean => safeEqual(digest(challenge), stored)

/**
 * Creation options for a new passkey of `user`; `holder` is what the challenge is bound to
 * (the session's digest or the token family), so only that session can complete it.
 */
export async function registrationOptions (deps: PasskeyDeps, user: User, holder: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await deps.store.list(user.id)
  const options = await generateRegistrationOptions({
    rpName: deps.rp.name,
    rpID: deps.rp.id,
    userName: user.email,
    userID: userHandle(user.id),
    userDisplayName: user.username ?? user.email,
    timeout: deps.challenges.ttlMs,
    attestationType: 'none',
    supportedAlgorithmIDs: ALGORITHMS,
    // The same authenticator twice would be one passkey listed twice.
    excludeCredentials: existing.map(p => ({ id: p.credentialId, transports: p.transports === '' ? undefined : p.transports.split(',') })),
    // Discoverable, so it can sign in without an identifier; verified, so it is a first factor.
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' }
  })
  await deps.challenges.put(registrationBinding(user.id, holder), options.challenge)
  return options
}

/** Checks the browser's answer to the session's registration challenge and stores the passkey. */
export async function verifyRegistration (deps: PasskeyDeps, user: User, holder: string, response: RegistrationResponseJSON, name?: string): Promise<Passkey> {
  const stored = await deps.challenges.take(registrationBinding(user.id, holder))
  if (stored === null) throw dead()
  let info
  try {
    const verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: matches(stored),
      expectedOrigin: deps.rp.origins,
      expectedRPID: deps.rp.id,
      requireUserVerification: true,
      supportedAlgorithmIDs: ALGORITHMS
    })
    if (!verified.verified) throw new Error('not verified')
    info = verified.registrationInfo
  } catch (err) {
    deps.log.info({ userId: user.id, reason: (err as Error).message }, 'passkey registration refused')
    throw new AuthError('PASSKEY_REJECTED', 'The passkey response does not answer this challenge for this site.')
  }
  const added = await deps.store.add(user.id, {
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: (info.credential.transports ?? []).join(','),
    aaguid: info.aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    name: name ?? authenticatorName(info.aaguid) ?? 'Passkey'
  })
  if (!added.ok && added.reason === 'limit') throw new AuthError('PASSKEY_LIMIT_REACHED', 'An account may have at most 20 passkeys: delete one first.')
  if (!added.ok) throw new AuthError('PASSKEY_REJECTED', 'This passkey is already registered to this account.')
  return added.passkey
}

/** Request options for signing in with any discoverable passkey of this site. */
export async function signInOptions (deps: PasskeyDeps): Promise<{ challengeId: string, options: PublicKeyCredentialRequestOptionsJSON }> {
  const options = await generateAuthenticationOptions({ rpID: deps.rp.id, userVerification: 'required', timeout: deps.challenges.ttlMs })
  const challengeId = randomToken(32)
  await deps.challenges.put(signInBinding(challengeId), options.challenge)
  return { challengeId, options }
}

/**
 * Checks an assertion against one stored passkey and records the use. Throws `failure` for
 * anything wrong (signature, origin, RP ID, challenge, flags, a counter that went back).
 */
async function checkAssertion (deps: PasskeyDeps, userId: string, passkey: Passkey, response: AuthenticationResponseJSON, stored: string, firstFactor: boolean, failure: () => AuthError): Promise<void> {
  let info
  try {
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: matches(stored),
      expectedOrigin: deps.rp.origins,
      expectedRPID: deps.rp.id,
      credential: { id: passkey.credentialId, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')), counter: passkey.counter },
      requireUserVerification: firstFactor
    })
    if (!verified.verified) throw new Error('not verified')
    info = verified.authenticationInfo
  } catch (err) {
    const reason = (err as Error).message
    // A counter at or below the stored one means a copy of the key, or a replayed answer.
    if (/counter/i.test(reason)) deps.log.warn({ userId, passkeyId: passkey.id }, 'passkey signature counter went back: refused')
    else deps.log.info({ userId, passkeyId: passkey.id, reason }, 'passkey assertion refused')
    throw failure()
  }
  const used = await deps.store.recordUse(userId, passkey.id, info.newCounter, info.credentialBackedUp)
  if (used === 'counter') deps.log.warn({ userId, passkeyId: passkey.id }, 'passkey signature counter went back: refused')
  if (used !== 'ok') throw failure()
}

const wrongPasskey = (): AuthError => new AuthError('INVALID_CREDENTIALS', 'This passkey is not registered here, or its answer is not valid.')

/**
 * Signs in with a discoverable passkey: the challenge of `challengeId` (taken first), the
 * account its user handle names, then the assertion under the account's back-off. Answers
 * the user to sign in.
 */
export async function verifySignIn (deps: PasskeyDeps, challengeId: string, response: AuthenticationResponseJSON, guard: Guard): Promise<{ user: User, passkey: Passkey }> {
  const stored = await deps.challenges.take(signInBinding(challengeId))
  if (stored === null) throw dead()
  const userId = userIdOf(response.response.userHandle)
  const user = userId === null ? null : await deps.users.findById(userId)
  if (user === null) throw wrongPasskey()
  return await guard(user.id, async () => {
    const passkey = await deps.store.byCredentialId(user.id, response.id)
    if (passkey === null) throw wrongPasskey()
    await checkAssertion(deps, user.id, passkey, response, stored, true, wrongPasskey)
    if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'This account has been disabled.')
    return { user, passkey }
  })
}

/** Request options for the second step of a 2FA login: the account's own passkeys. */
export async function secondFactorOptions (deps: PasskeyDeps, userId: string, mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const passkeys = await deps.store.list(userId)
  if (passkeys.length === 0) throw new AuthError('NOT_FOUND', 'This account has no passkey.')
  const options = await generateAuthenticationOptions({
    rpID: deps.rp.id,
    allowCredentials: passkeys.map(p => ({ id: p.credentialId, transports: p.transports === '' ? undefined : p.transports.split(',') })),
    userVerification: 'preferred',
    timeout: deps.challenges.ttlMs
  })
  await deps.challenges.put(secondFactorBinding(mfaToken), options.challenge)
  return options
}

/** True when `response` answers the 2FA challenge's passkey challenge with a passkey of `userId`. */
export async function verifySecondFactor (deps: PasskeyDeps, userId: string, mfaToken: string, response: AuthenticationResponseJSON): Promise<boolean> {
  const stored = await deps.challenges.take(secondFactorBinding(mfaToken))
  if (stored === null) return false
  const passkey = await deps.store.byCredentialId(userId, response.id)
  if (passkey === null) return false
  try {
    await checkAssertion(deps, userId, passkey, response, stored, false, wrongPasskey)
    return true
  } catch (err) {
    if (err instanceof AuthError) return false
    throw err
  }
}
