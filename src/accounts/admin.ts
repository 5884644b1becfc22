import { AuthError } from '../http/errors.js'
import { randomToken } from '../crypto/secrets.js'
import { message, type MailMessage } from '../mail/templates.js'
import { checkPasswordPolicy } from './passwords.js'
import type { RecoveryDeps } from './recovery.js'
import { passwordResetMessage } from './recovery-mail.js'
import { parseEmail, parseName, parseUsername, type Role, type User, type UserRepository } from './users.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'
import type { MfaDeps } from '../mfa/challenges.js'

export interface AdminCreateInput {
  email: string
  password?: string
  username?: string
  firstName?: string
  lastName?: string
  role?: Role
  emailVerified?: boolean
  /** mail the person a link to choose their password (which also verifies the address) */
  invite?: boolean
}

function inviteMessage (to: string, appOrigin: string, token: string, minutes: number): MailMessage {
  return message(to, 'You have a Gatehouse account', [
    'An administrator created a Gatehouse account for this address.',
    `Choose your password with the link below. It works once, for ${minutes} minutes; an administrator can send a new one.`,
    'If you did not expect this, ignore this message.'
  ], { url: `${appOrigin}/reset-password?token=${token}`, label: 'Choose your password' })
}

/**
 * An account made by an administrator: verified or not as asked, never expiring like a
 * self-registration. Without a password it has one nobody knows, and with `invite` the
 * person gets a link to choose theirs. 409 when the address or username is taken (an
 * administrator may know who is registered).
 */
export async function adminCreateUser (deps: RecoveryDeps, input: AdminCreateInput): Promise<User> {
  const email = parseEmail(input.email)
  const username = input.username === undefined ? null : parseUsername(input.username)
  const firstName = parseName(input.firstName, 'firstName')
  const lastName = parseName(input.lastName, 'lastName')
  if (input.password !== undefined) checkPasswordPolicy(input.password)
  const passwordHash = await deps.hasher.hash(input.password ?? randomToken(32))
  const created = await deps.users.create({ email, username, passwordHash, firstName, lastName, role: input.role ?? 'user', emailVerified: input.emailVerified ?? false })
  if (!created.ok) {
    throw created.reason === 'email_taken' ? new AuthError('EMAIL_TAKEN', 'An account has this address.') : new AuthError('USERNAME_TAKEN', 'Another account has this username.')
  }
  if (input.invite === true) {
    const token = await deps.emailTokens.issue('reset', created.user.id, deps.resetTokenTtlMs)
    await deps.mailer.dispatch(inviteMessage(email, deps.appOrigin, token, Math.max(1, Math.round(deps.resetTokenTtlMs / 60_000))))
  }
  deps.log.info({ userId: created.user.id }, 'user created by an administrator')
  return created.user
}

/** Mails the user a password reset link, as /password/forgot would for an active account. */
export async function adminSendPasswordReset (deps: RecoveryDeps, user: User): Promise<void> {
  const token = await deps.emailTokens.issue('reset', user.id, deps.resetTokenTtlMs)
  await deps.mailer.dispatch(passwordResetMessage(user.email, deps.appOrigin, token, Math.max(1, Math.round(deps.resetTokenTtlMs / 60_000))))
}

/** Disables the account and ends every session and token family it has. */
export async function disableUser (deps: { users: UserRepository, sessions: EndAllDeps }, user: User): Promise<number> {
  await deps.users.update(user.id, { disabled: true })
  return await endAllSessions(deps.sessions, user.id)
}

/** A lost authenticator: 2FA off, secret and backup codes gone, every session ended. */
export async function resetTwoFactor (deps: Pick<MfaDeps, 'users' | 'totp' | 'backupCodes' | 'sessions'>, user: User): Promise<number> {
  await deps.users.update(user.id, { mfaEnabled: false })
  await deps.totp.remove(user.id)
  await deps.backupCodes.remove(user.id)
  return await endAllSessions(deps.sessions, user.id)
}

/** An administrator may not lock themselves out: no own demotion, disabling or deletion. */
export function refuseOwnAccount (adminId: string, targetId: string, what: string): void {
  if (adminId === targetId) throw new AuthError('OWN_ACCOUNT', `An administrator cannot ${what} their own account.`)
}
