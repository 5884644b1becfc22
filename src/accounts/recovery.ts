import type { AccountDeps } from './registration.js'
import { AuthError, validationError } from '../http/errors.js'
import { passwordChangedMessage, passwordResetMessage } from './recovery-mail.js'
import { checkPasswordPolicy, normalizePassword } from './passwords.js'
import { randomToken } from '../crypto/secrets.js'
import { parseEmail, type User } from './users.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'

/** What the account functions take, with the reset link's lifetime instead of the verify link's. */
export interface RecoveryDeps extends Omit<AccountDeps, 'verifyTokenTtlMs'> {
  resetTokenTtlMs: number
  /** the stores whose sessions and token families a password reset or change ends */
  sessions: EndAllDeps
}

/**
 * Sends a reset link when the address belongs to an active account. The answer must not
 * tell whether it does: the caller answers the same 202 either way, the mail is handed
 * off without waiting for SMTP, and an unknown address costs the same Redis round trips
 * and the same message building as a known one (the decoy is built, never sent).
 */
export async function requestPasswordReset (deps: RecoveryDeps, rawEmail: string): Promise<void> {
  const email = parseEmail(rawEmail)
  const user = await deps.users.findByEmail(email)
  const minutes = Math.max(1, Math.round(deps.resetTokenTtlMs / 60_000))
  if (user === null || user.disabled) {
    await deps.emailTokens.touch('reset')
    await deps.mailer.build(passwordResetMessage(email, deps.appOrigin, randomToken(32), minutes))
    return
  }
  const token = await deps.emailTokens.issue('reset', user.id, deps.resetTokenTtlMs)
  const { messageId } = await deps.mailer.post(passwordResetMessage(user.email, deps.appOrigin, token, minutes))
  deps.log.info({ userId: user.id, messageId }, 'password reset requested')
}

/**
 * Sets a new password with an emailed token. The policy is checked before the token is
 * consumed, so a rejected password does not burn the link. Consuming is one GETDEL: of
 * two concurrent resets with one token at most one gets past it. Every session of the
 * user ends, every other reset link dies, and the owner is told.
 */
export async function resetPassword (deps: RecoveryDeps, token: string, password: string): Promise<User> {
  checkPasswordPolicy(password)
  const userId = await deps.emailTokens.consume('reset', token)
  const user = userId === null ? null : await deps.users.findById(userId)
  if (user === null || user.disabled) throw new AuthError('INVALID_TOKEN')
  const passwordHash = await deps.hasher.hash(password)
  // Following the link proved control of the mailbox, which is what verification proves.
  await deps.users.update(user.id, { passwordHash, emailVerified: true })
  const sessionsEnded = await endAllSessions(deps.sessions, user.id)
  await deps.emailTokens.revoke('reset', user.id)
  const sent = await deps.mailer.dispatch(passwordChangedMessage(user.email, deps.appOrigin, 'reset', new Date()))
  deps.log.info({ userId: user.id, sessionsEnded, noticeMessageId: sent?.messageId }, 'password reset')
  return user
}

export interface ChangeInput {
  currentPassword: string
  newPassword: string
}

/**
 * Changes the password of a signed-in user who knows the current one. Ends every other
 * session and token family (`keepSession`, see `currentKeep`, stays; a cookie session gets a new id from the caller) and
 * every outstanding reset link, and tells the owner.
 */
export async function changePassword (deps: RecoveryDeps, user: User, input: ChangeInput, keepSession: string | undefined): Promise<void> {
  checkPasswordPolicy(input.newPassword, 'newPassword')
  const ok = await deps.hasher.verify(user.passwordHash, input.currentPassword)
  if (!ok) throw new AuthError('INVALID_CREDENTIALS', 'The current password is incorrect.')
  if (normalizePassword(input.newPassword) === normalizePassword(input.currentPassword)) {
    throw validationError('newPassword', 'must differ from the current password')
  }
  const passwordHash = await deps.hasher.hash(input.newPassword)
  await deps.users.update(user.id, { passwordHash })
  const sessionsEnded = await endAllSessions(deps.sessions, user.id, keepSession)
  await deps.emailTokens.revoke('reset', user.id)
  const sent = await deps.mailer.dispatch(passwordChangedMessage(user.email, deps.appOrigin, 'change', new Date()))
  deps.log.info({ userId: user.id, sessionsEnded, noticeMessageId: sent?.messageId }, 'password changed')
}
