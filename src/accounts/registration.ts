import type { FastifyBaseLogger } from 'fastify'
import { AuthError } from '../http/errors.js'
import type { EmailTokens } from './email-tokens.js'
import type { Mailer } from '../mail/delivery.js'
import { alreadyRegisteredMessage, usernameTakenMessage, verifyEmailMessage } from './registration-mail.js'
import { message, type MailMessage } from '../mail/templates.js'
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js'
import { parseEmail, parseName, parseUsername, type User, type UserRepository } from './users.js'
import { randomToken } from '../crypto/secrets.js'

export interface AccountDeps {
  users: UserRepository
  hasher: PasswordHasher
  emailTokens: EmailTokens
  mailer: Mailer
  log: FastifyBaseLogger
  appOrigin: string
  verifyTokenTtlMs: number
}

export interface RegisterInput {
  email: string
  password: string
  username?: string
  firstName?: string
  lastName?: string
}

/**
 * Registration answers the same way whether or not the address is taken: the password is
 * hashed in both cases (same cost), and the owner of a taken address gets a notice instead.
 * An unverified account expires with its verification window, freeing address and username.
 *
 * Pre-hijacking: someone may register the victim's address with their own password and
 * wait. A second registration of a still unverified address marks it contested and mails a
 * new link; verifying a contested account keeps none of the passwords (no one can tell which
 * registration was the owner's) and mails the owner a link to choose one.
 */
export async function register (deps: AccountDeps, input: RegisterInput): Promise<string | null> {
  const email = parseEmail(input.email)
  const username = input.username === undefined ? null : parseUsername(input.username)
  const firstName = parseName(input.firstName, 'firstName')
  const lastName = parseName(input.lastName, 'lastName')
  checkPasswordPolicy(input.password)
  const passwordHash = await deps.hasher.hash(input.password)
  const created = await deps.users.create({ email, username, passwordHash, firstName, lastName }, { pendingTtlMs: deps.verifyTokenTtlMs })
  if (created.ok) {
    deps.log.info({ userId: created.user.id }, 'user registered')
    await sendVerification(deps, created.user)
    return created.user.id
  }
  if (created.reason === 'username_taken') {
    await deps.mailer.dispatch(usernameTakenMessage(email, deps.appOrigin, username ?? ''))
    return null
  }
  const existing = created.existingId === null ? null : await deps.users.findById(created.existingId)
  if (existing !== null && !existing.emailVerified && await deps.users.contestPending(existing.id) > 0) {
    await sendVerification(deps, existing)
  } else {
    await deps.mailer.dispatch(alreadyRegisteredMessage(email, deps.appOrigin))
  }
  return null
}

export async function sendVerification (deps: AccountDeps, user: User): Promise<void> {
  const token = await deps.emailTokens.issue('verify', user.id, deps.verifyTokenTtlMs)
  await deps.mailer.dispatch(verifyEmailMessage(user.email, deps.appOrigin, token, Math.round(deps.verifyTokenTtlMs / 3_600_000)))
}

const unusable = new WeakMap<PasswordHasher, Promise<string>>()

/** A hash no one knows the password of (random, never kept), made once per hasher. */
async function unusableHash (hasher: PasswordHasher): Promise<string> {
  let h = unusable.get(hasher)
  if (h === undefined) {
    h = hasher.hash(randomToken(32))
    unusable.set(hasher, h)
  }
  return await h
}

function choosePasswordMessage (to: string, appOrigin: string, token: string, hours: number): MailMessage {
  return message(to, 'Choose your password', [
    'Your email address is verified.',
    'More than one registration used this address before it was verified, so none of the passwords given was kept: we cannot tell which one was yours.',
    `Choose your password with the link below. It works once, for ${hours} hours.`
  ], { url: `${appOrigin}/reset-password?token=${token}`, label: 'Choose your password' })
}

/**
 * The link is spent only once the account is written, so a failed write (Redis gone
 * mid-request) leaves it working; two concurrent uses both settle the same account.
 */
export async function verifyEmail (deps: Pick<AccountDeps, 'users' | 'emailTokens' | 'log' | 'hasher' | 'mailer' | 'appOrigin' | 'verifyTokenTtlMs'>, token: string): Promise<User> {
  const userId = await deps.emailTokens.peek('verify', token)
  if (userId === null) throw new AuthError('INVALID_TOKEN')
  const outcome = await deps.users.settle(userId, await unusableHash(deps.hasher))
  if (outcome === null) throw new AuthError('INVALID_TOKEN')
  if (await deps.emailTokens.consume('verify', token) === null) throw new AuthError('INVALID_TOKEN')
  const user = await deps.users.findById(userId)
  if (user === null) throw new AuthError('INVALID_TOKEN')
  if (outcome === 'contested') {
    const reset = await deps.emailTokens.issue('reset', user.id, deps.verifyTokenTtlMs)
    await deps.mailer.dispatch(choosePasswordMessage(user.email, deps.appOrigin, reset, Math.round(deps.verifyTokenTtlMs / 3_600_000)))
    deps.log.info({ userId: user.id }, 'email verified; registration was contested, password not kept')
  } else if (outcome === 'verified') {
    deps.log.info({ userId: user.id }, 'email verified')
  }
  return user
}

/**
 * Same answer for every address; only an unverified account gets a new link. The mail is
 * handed off without waiting for SMTP, and the other paths build a decoy message and cost
 * the same Redis round trips, so the timing does not tell which path ran.
 */
export async function resendVerification (deps: AccountDeps, rawEmail: string): Promise<void> {
  const email = parseEmail(rawEmail)
  const user = await deps.users.findByEmail(email)
  const hours = Math.round(deps.verifyTokenTtlMs / 3_600_000)
  if (user !== null && !user.emailVerified && !user.disabled) {
    const token = await deps.emailTokens.issue('verify', user.id, deps.verifyTokenTtlMs)
    await deps.mailer.post(verifyEmailMessage(user.email, deps.appOrigin, token, hours))
    return
  }
  await deps.emailTokens.touch('verify')
  await deps.mailer.build(verifyEmailMessage(email, deps.appOrigin, randomToken(32), hours))
}

export interface LoginInput {
  email?: string
  username?: string
  password: string
}

/**
 * Checks a password. The Argon2 work is done whether or not the account exists (against
 * a dummy hash otherwise), and account-state errors come only after the password is right,
 * so neither the answer nor its timing tells an attacker whether an account exists.
 */
export async function checkCredentials (deps: Pick<AccountDeps, 'users' | 'hasher'>, input: LoginInput, accountId?: string): Promise<User> {
  const identifier = input.email ?? input.username
  if (identifier === undefined) throw new AuthError('VALIDATION_FAILED', 'email or username is required', { fieldErrors: {}, formErrors: ['email or username is required'] })
  // `accountId`: the id the identifier named a moment ago (the throttle resolved it).
  const user = accountId === undefined ? await deps.users.findByLogin(identifier.trim()) : await deps.users.findByLoginId(identifier, accountId)
  const ok = await deps.hasher.verify(user?.passwordHash, input.password)
  if (!ok || user === null) throw new AuthError('INVALID_CREDENTIALS', 'The email, username or password is incorrect.')
  if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'This account has been disabled.')
  if (!user.emailVerified) throw new AuthError('EMAIL_NOT_VERIFIED', 'Verify your email address before signing in.')
  // Raising the Argon2 cost in configuration upgrades each hash at its owner's next login.
  if (deps.hasher.needsRehash(user.passwordHash)) {
    await deps.users.update(user.id, { passwordHash: await deps.hasher.hash(input.password) }, { sameCredentials: true })
  }
  return user
}
