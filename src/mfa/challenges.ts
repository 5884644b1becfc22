import type { FastifyBaseLogger } from 'fastify'
import type { MfaChange } from './mfa-mail.js'
import type { BackupCodes } from './backup-codes.js'
import { AuthError } from '../http/errors.js'
import type { PasswordHasher } from '../accounts/passwords.js'
import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { digest, randomToken } from '../crypto/secrets.js'
import { newTotpSecret, otpauthUri, qrSvg, type TotpStore } from './totp.js'
import type { User, UserRepository } from '../accounts/users.js'
import { signInMethod, type SignInMethod } from '../events/catalogue.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'

export const MFA_METHODS = ['totp', 'backup_code'] as const
export type MfaMethod = typeof MFA_METHODS[number]
/** What a login challenge can be answered with: the codes, and a passkey when the account has one. */
export type MfaChallengeMethod = MfaMethod | 'passkey'
/** Wrong codes a challenge survives; the next check after the last one is refused. */
export const MFA_CHALLENGE_MAX_ATTEMPTS = 5

/** What a completed login hands out: a cookie session or bearer tokens. */
export type LoginGrant = 'session' | 'token'

/*
 * Reserve one attempt on a challenge before its code is checked, in one script: so at most
 * MAX codes are ever checked against a challenge, however many requests race for it.
 * Returns { userId, attempt } or nil when the challenge is unknown, expired or spent.
 */
const RESERVE_ATTEMPT: LuaScript = {
  keys: ['challengeKey'],
  argv: ['maxAttempts'],
  lua: `
-- the challenge hash { userId, attempts, grant, cv, method }
local challengeKey = KEYS[1]
-- codes a challenge may have checked in all
local maxAttempts = tonumber(ARGV[1])
local userId = redis.call('HGET', challengeKey, 'userId')
if not userId then return nil end
local n = redis.call('HINCRBY', challengeKey, 'attempts', 1)
if n > maxAttempts then
  redis.call('DEL', challengeKey)
  return nil
end
return { userId, n, redis.call('HGET', challengeKey, 'grant') or 'session', redis.call('HGET', challengeKey, 'cv') or '0', redis.call('HGET', challengeKey, 'method') or 'password' }
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseMfaReserveAttempt: (challengeKey: string, maxAttempts: number) => Promise<[string, number, string, string, string] | null>
  }
}

/**
 * The challenge of the two-step login: a 256-bit token given to the client once the
 * password is right, kept in Redis only as its SHA-256 digest (`<prefix>mfa:<digest>`,
 * hash { userId, attempts, grant }) with a TTL. `grant` says what a right code earns: a
 * cookie session (POST /login) or bearer tokens (POST /token).
 */
export class MfaChallenges {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttlMs: number

  constructor (redis: RedisClient, prefix: string, ttlMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.ttlMs = ttlMs
    defineScripts(redis, { gatehouseMfaReserveAttempt: RESERVE_ATTEMPT })
  }

  key (token: string): string { return `${this.#prefix}mfa:${digest(token)}` }

  /**
   * `cv`: the credential version of the user record the first factor was checked against;
   * `method`: that first factor, which the sign-in is recorded as once the challenge is answered.
   */
  async issue (userId: string, grant: LoginGrant = 'session', cv = 0, method: SignInMethod = 'password'): Promise<string> {
    const token = randomToken(32)
    const key = this.key(token)
    await this.#redis.multi().hset(key, { userId, attempts: '0', grant, cv: String(cv), method }).pexpire(key, this.ttlMs).exec()
    return token
  }

  async reserveAttempt (token: string): Promise<{ userId: string, attempt: number, grant: LoginGrant, cv: number, method: SignInMethod } | null> {
    const r = await this.#redis.gatehouseMfaReserveAttempt(this.key(token), MFA_CHALLENGE_MAX_ATTEMPTS)
    return r === null ? null : { userId: r[0], attempt: Number(r[1]), grant: r[2] === 'token' ? 'token' : 'session', cv: Number(r[3]), method: signInMethod(r[4]) }
  }

  /** True for the one caller that ends the challenge. */
  /** The user a live challenge is for, without spending an attempt; null when none. */
  async userOf (token: string): Promise<string | null> {
    return await this.#redis.hget(this.key(token), 'userId')
  }

  async consume (token: string): Promise<boolean> {
    return await this.#redis.del(this.key(token)) === 1
  }
}

export interface MfaDeps {
  users: UserRepository
  hasher: PasswordHasher
  totp: TotpStore
  backupCodes: BackupCodes
  challenges: MfaChallenges
  log: FastifyBaseLogger
  /**
   * Called once for every wrong second-factor code (login challenge, inline `totpCode`,
   * disabling 2FA). The account's failure backoff is wired in here, so wrong codes count
   * like wrong passwords; it may throw (e.g. a RATE_LIMITED AuthError).
   */
  onMfaFailure: (userId: string) => Promise<void>
  /** tells the owner about a change of their second factor (by mail) */
  notifyChange?: (user: User, change: MfaChange) => Promise<void>
  /** runs a password check of a signed-in user under the account's back-off */
  guardPassword?: (userId: string, check: () => Promise<void>, completes?: boolean) => Promise<void>
  /** Called before a code is checked: throws (RATE_LIMITED) while the account backs off. */
  beforeMfaAttempt?: (userId: string) => Promise<void>
  /** Called after a right code: clears the account's failure count. */
  onMfaSuccess?: (userId: string) => Promise<void>
  /** A change of the second factor ends the user's other sessions and token families. */
  sessions: EndAllDeps
  /** How many passkeys the user has: with one, a login challenge offers `passkey` too. */
  passkeyCount?: (userId: string) => Promise<number>
}

export interface MfaChallengeAnswer {
  mfaRequired: true
  mfaToken: string
  mfaMethods: MfaChallengeMethod[]
  expiresIn: number
}

function invalidCode (): AuthError {
  return new AuthError('INVALID_MFA_CODE', 'The verification code is wrong, expired or already used.')
}

/** `secondFactorFollows`: a right password then must not reset the budget the code check spends. */
async function requirePassword (deps: Pick<MfaDeps, 'hasher' | 'guardPassword'>, user: User, password: string, secondFactorFollows = false): Promise<void> {
  const check = async (): Promise<void> => {
    if (!await deps.hasher.verify(user.passwordHash, password)) {
      throw new AuthError('INVALID_CREDENTIALS', 'The password is incorrect.')
    }
  }
  await (deps.guardPassword === undefined ? check() : deps.guardPassword(user.id, check, !secondFactorFollows))
}

/** A TOTP code or a backup code: by `method`, or by its shape when no method is named. */
export async function checkSecondFactor (deps: Pick<MfaDeps, 'totp' | 'backupCodes'>, userId: string, code: string, method?: MfaMethod): Promise<boolean> {
  if ((method ?? methodOf(code)) === 'totp') return await deps.totp.checkActive(userId, code.replace(/[\s-]/g, '')) === 'ok'
  return await deps.backupCodes.consume(userId, code)
}

/** Apps show a TOTP code as "123 456": six digits once spaces and dashes are gone. */
function methodOf (code: string): MfaMethod {
  return /^[0-9]{6}$/.test(code.replace(/[\s-]/g, '')) ? 'totp' : 'backup_code'
}

/**
 * The MFA step of a login, called between checkCredentials and signIn. Null means "sign
 * in": the user has no 2FA, or gave a right inline `totpCode`. Otherwise the answer is the
 * challenge the client must answer at /mfa/verify. A wrong inline code is a 401.
 */
export async function loginStep (deps: MfaDeps, user: User, totpCode?: string, grant: LoginGrant = 'session', method: SignInMethod = 'password'): Promise<MfaChallengeAnswer | null> {
  if (!user.mfaEnabled) return null
  if (totpCode !== undefined) {
    await deps.beforeMfaAttempt?.(user.id)
    if (await deps.totp.checkActive(user.id, totpCode) === 'ok') {
      await deps.onMfaSuccess?.(user.id)
      return null
    }
    await deps.onMfaFailure(user.id)
    throw invalidCode()
  }
  const mfaToken = await deps.challenges.issue(user.id, grant, user.credVersion, method)
  const passkey = (await deps.passkeyCount?.(user.id) ?? 0) > 0
  return { mfaRequired: true, mfaToken, mfaMethods: [...MFA_METHODS, ...(passkey ? ['passkey' as const] : [])], expiresIn: Math.round(deps.challenges.ttlMs / 1000) }
}

/** A challenge answered: whom to sign in, with what (`grant`), recorded as `method` (its first factor). */
export interface AnsweredChallenge { user: User, grant: LoginGrant, method: SignInMethod }

export interface VerifyChallengeInput {
  mfaToken: string
  code: string
  method?: MfaMethod
}

/**
 * Answers a login challenge with a second factor that `check` tests: the user to sign in and
 * what to grant, or an AuthError. Each check spends one of the challenge's attempts and runs
 * under the account's back-off, whatever the factor (a code, a passkey).
 */
export async function answerChallenge (deps: MfaDeps, mfaToken: string, check: (user: User) => Promise<boolean>): Promise<AnsweredChallenge> {
  const dead = new AuthError('INVALID_TOKEN', 'This sign-in challenge is expired, used or unknown; sign in again.')
  const reserved = await deps.challenges.reserveAttempt(mfaToken)
  if (reserved === null) throw dead
  const user = await deps.users.findById(reserved.userId)
  // A challenge begun before a credential change (a reset, 2FA turned off) dies with it.
  if (user === null || user.credVersion !== reserved.cv) {
    await deps.challenges.consume(mfaToken)
    throw dead
  }
  await deps.beforeMfaAttempt?.(user.id)
  if (await check(user)) {
    if (!await deps.challenges.consume(mfaToken)) throw dead
    await deps.onMfaSuccess?.(user.id)
    if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'This account has been disabled.')
    return { user, grant: reserved.grant, method: reserved.method }
  }
  if (reserved.attempt >= MFA_CHALLENGE_MAX_ATTEMPTS) await deps.challenges.consume(mfaToken)
  await deps.onMfaFailure(user.id)
  throw invalidCode()
}

/** Answers a login challenge with a TOTP or backup code. */
export async function verifyChallenge (deps: MfaDeps, input: VerifyChallengeInput): Promise<AnsweredChallenge> {
  const answered = await answerChallenge(deps, input.mfaToken, async user => await checkSecondFactor(deps, user.id, input.code, input.method))
  if ((input.method ?? methodOf(input.code)) === 'backup_code') {
    deps.log.info({ userId: answered.user.id, remaining: await deps.backupCodes.remaining(answered.user.id) }, 'backup code used')
  }
  return answered
}

export interface SetupAnswer { secret: string, otpauthUrl: string, qrSvg: string }

/**
 * Starts an enrolment: a new secret kept (sealed) as pending for 10 minutes and for this
 * session only, so /2fa/enable completes the enrolment the password was given for.
 */
export async function setupTotp (deps: MfaDeps, user: User, password: string, sessionDigest: string): Promise<SetupAnswer> {
  await requirePassword(deps, user, password)
  if (user.mfaEnabled) throw new AuthError('MFA_ALREADY_ENABLED', 'Two-factor authentication is already on; disable it first.')
  const secret = newTotpSecret()
  await deps.totp.savePending(user.id, secret, sessionDigest)
  const otpauthUrl = otpauthUri(user.email, secret)
  return { secret, otpauthUrl, qrSvg: await qrSvg(otpauthUrl) }
}

/**
 * Turns 2FA on with the first code of the pending secret; returns the backup codes. Ends
 * the user's sessions and token families but `keep` (see `currentKeep`).
 */
export async function enableTotp (deps: MfaDeps, user: User, code: string, sessionDigest: string, keep?: string): Promise<string[]> {
  if (user.mfaEnabled) throw new AuthError('MFA_ALREADY_ENABLED', 'Two-factor authentication is already on.')
  const secret = await deps.totp.pending(user.id, sessionDigest)
  if (secret === null) throw new AuthError('MFA_SETUP_REQUIRED', 'Start with /2fa/setup in this session; a setup lasts 10 minutes.')
  if (await deps.totp.check(user.id, secret, code) !== 'ok') throw invalidCode()
  // Two enables racing with codes of two steps: only one completes, so only one set of
  // backup codes is ever shown.
  if (!await deps.totp.claimPending(user.id)) throw new AuthError('MFA_SETUP_REQUIRED', 'This setup was already completed or has expired.')
  await deps.totp.activate(user.id, secret)
  const codes = await deps.backupCodes.regenerate(user.id)
  await deps.users.update(user.id, { mfaEnabled: true })
  const sessionsEnded = await endAllSessions(deps.sessions, user.id, keep)
  await deps.notifyChange?.(user, 'enabled')
  deps.log.info({ userId: user.id, sessionsEnded }, 'mfa enabled')
  return codes
}

/**
 * Both factors of a signed-in user, for a change of the second factor: whoever holds a
 * session (or a token) and the password must still show the app or a backup code. The code
 * is checked under the account's back-off like every other second-factor check.
 */
async function requireBothFactors (deps: MfaDeps, user: User, password: string, code: string): Promise<void> {
  await requirePassword(deps, user, password, true)
  if (!user.mfaEnabled) throw new AuthError('MFA_NOT_ENABLED', 'Two-factor authentication is not on.')
  await deps.beforeMfaAttempt?.(user.id)
  if (!await checkSecondFactor(deps, user.id, code)) {
    await deps.onMfaFailure(user.id)
    throw invalidCode()
  }
  await deps.onMfaSuccess?.(user.id)
}

/** Turns 2FA off; ends the user's sessions and token families but `keep`. */
export async function disableTotp (deps: MfaDeps, user: User, password: string, code: string, keep?: string): Promise<void> {
  await requireBothFactors(deps, user, password, code)
  await deps.users.update(user.id, { mfaEnabled: false })
  await deps.totp.remove(user.id)
  await deps.backupCodes.remove(user.id)
  const sessionsEnded = await endAllSessions(deps.sessions, user.id, keep)
  await deps.notifyChange?.(user, 'disabled')
  deps.log.info({ userId: user.id, sessionsEnded }, 'mfa disabled')
}

/**
 * New backup codes (the old ones stop working); ends the user's sessions and token families
 * but `keep`. A backup code given as the second factor is spent before the set is replaced.
 */
export async function regenerateBackupCodes (deps: MfaDeps, user: User, password: string, code: string, keep?: string): Promise<string[]> {
  await requireBothFactors(deps, user, password, code)
  const codes = await deps.backupCodes.regenerate(user.id)
  await deps.users.bumpCredentials(user.id)
  const sessionsEnded = await endAllSessions(deps.sessions, user.id, keep)
  await deps.notifyChange?.(user, 'backup-codes')
  deps.log.info({ userId: user.id, sessionsEnded }, 'backup codes regenerated')
  return codes
}
