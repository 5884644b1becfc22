/*
 * Signing in with an emailed code or link: proof of the mailbox instead of the password.
 * The functions here decide who signs in; the route then takes the same steps as a password
 * login (2FA through loginStep, then signIn or issueTokens).
 */
import type { FastifyBaseLogger } from 'fastify'
import { AuthError } from '../http/errors.js'
import type { Mailer } from '../mail/delivery.js'
import { randomToken } from '../crypto/secrets.js'
import { parseEmail, type User, type UserRepository } from '../accounts/users.js'
import { newCode, type EmailCodes } from './store.js'
import { signInCodeMessage } from './mail.js'

export interface EmailCodeDeps {
  users: UserRepository
  codes: EmailCodes
  mailer: Mailer
  log: FastifyBaseLogger
  appOrigin: string
}

/** Who may get a code: a verified, enabled account. */
function mayGetCode (user: User | null): user is User {
  return user !== null && !user.disabled && user.emailVerified
}

/**
 * Mails a code and a link when the address belongs to a verified, enabled account. The
 * answer must not tell whether it does: the caller answers the same 202 either way, the
 * mail is handed off without waiting for SMTP, and every other address costs the same Redis
 * round trips and message building (the decoy is built, never sent).
 *
 * An unverified account gets nothing: a code must neither verify an address nor open an
 * account whose password someone else may have chosen (pre-hijacking); its owner verifies
 * first. A disabled account gets nothing either.
 */
export async function requestEmailCode (deps: EmailCodeDeps, rawEmail: string): Promise<void> {
  const email = parseEmail(rawEmail)
  const user = await deps.users.findByEmail(email)
  const minutes = Math.max(1, Math.round(deps.codes.ttlMs / 60_000))
  if (!mayGetCode(user)) {
    await deps.codes.touch()
    await deps.mailer.build(signInCodeMessage(email, deps.appOrigin, newCode(), randomToken(32), minutes))
    return
  }
  const { code, token } = await deps.codes.issue(user.id, user.credVersion)
  const { messageId } = await deps.mailer.post(signInCodeMessage(user.email, deps.appOrigin, code, token, minutes))
  deps.log.info({ userId: user.id, messageId }, 'email sign-in code requested')
}

function wrongCode (): AuthError {
  return new AuthError('INVALID_CREDENTIALS', 'The code is wrong, expired or already used (five wrong codes end it); ask for a new one.')
}

/**
 * The account an emailed code signs in to. Wrong, expired, spent and unknown all answer the
 * same INVALID_CREDENTIALS, for any address, so the answers never tell whether an account
 * exists or has a live code; an unknown address costs the same script run. 403 codes come
 * only once the code is right, as with a password.
 */
export async function checkEmailCode (deps: EmailCodeDeps, rawEmail: string, code: string): Promise<User> {
  const user = await deps.users.findByEmail(parseEmail(rawEmail))
  const typed = code.replace(/[\s-]/g, '')
  const result = await deps.codes.checkCode(user?.id ?? randomToken(16), typed)
  if (user === null) throw wrongCode()
  // A credential change (a reset, 2FA switched) since the code was mailed kills it.
  if (!result.ok || result.cv !== user.credVersion || !user.emailVerified) throw wrongCode()
  return usable(user)
}

/** The account an emailed link signs in to; INVALID_TOKEN when it is unknown, expired, used or replaced. */
export async function checkEmailLink (deps: EmailCodeDeps, token: string): Promise<User> {
  // The account is read before the link is spent: a Redis failure in between leaves it working.
  const userId = await deps.codes.linkOwner(token)
  const user = userId === null ? null : await deps.users.findById(userId)
  const cv = user === null ? null : await deps.codes.claimLink(user.id, token)
  if (user === null || cv === null || cv !== user.credVersion || !user.emailVerified) {
    throw new AuthError('INVALID_TOKEN', 'This sign-in link is expired, used or unknown; ask for a new one.')
  }
  return usable(user)
}

function usable (user: User): User {
  if (user.disabled) throw new AuthError('ACCOUNT_DISABLED', 'This account has been disabled.')
  return user
}
