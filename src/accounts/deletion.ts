import type { User, UserRepository } from './users.js'
import type { PasswordHasher } from './passwords.js'
import type { Mailer } from '../mail/delivery.js'
import { accountDeletedMessage } from './account-mail.js'
import { AuthError, validationError } from '../http/errors.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'

/**
 * One domain's part of deleting an account: it removes what that domain keeps about the
 * user (2FA secrets, linked identities, pending links, ...). `ownKeys` are the domain's
 * keys in the user's `{id}` slot, deleted together with the record in one step; `cleanup`
 * removes the rest (keys found by something other than the id, such as an identity's
 * index entry). A domain that stores something per user adds its entry to the list in
 * plugins/account-deletion.ts; the test that scans every Redis key and value after a
 * deletion finds what was missed.
 */
export interface AccountCleanup {
  ownKeys?: (userId: string) => string[]
  cleanup?: (user: User) => Promise<void>
}

export interface DeletionDeps {
  users: UserRepository
  sessions: EndAllDeps
  cleanups: Record<string, AccountCleanup>
}

/**
 * Deletes an account: DELETE /me, the admin API and nothing else go through here. The
 * account is disabled first, so no sign-in can begin while the rest runs; then every
 * session and token family ends, each domain removes its data, and the record goes with
 * the domains' keys of its slot; the address, the username and the index entries are
 * freed last (a claim naming a user who no longer exists counts as free). Sessions are
 * ended once more at the end for a sign-in that was already past its checks.
 */
export async function deleteAccount (deps: DeletionDeps, user: User): Promise<number> {
  await deps.users.update(user.id, { disabled: true })
  let ended = await endAllSessions(deps.sessions, user.id)
  const cleanups = Object.values(deps.cleanups)
  for (const c of cleanups) await c.cleanup?.(user)
  ended += await endAllSessions(deps.sessions, user.id)
  await deps.users.delete(user, [
    ...cleanups.flatMap(c => c.ownKeys?.(user.id) ?? []),
    deps.sessions.tokenStore.indexKey(user.id)
  ])
  return ended
}

export interface OwnDeletionDeps extends DeletionDeps {
  hasher: PasswordHasher
  mailer: Mailer
  appOrigin: string
  /** a TOTP or backup code of the user: true when it is right (and then spent) */
  checkSecondFactor: (userId: string, code: string) => Promise<boolean>
  /** runs the checks under the account's back-off, as every password check is */
  guard: (userId: string, check: () => Promise<void>) => Promise<void>
}

/**
 * DELETE /me: the password, and with 2FA on a code, as a sign-in would ask (under the same
 * back-off), then `announce`, deleteAccount and a last mail to the address.
 */
export async function deleteOwnAccount (deps: OwnDeletionDeps, user: User, input: { password?: string, totpCode?: string, recentSignIn: boolean }, announce?: () => Promise<void>): Promise<number> {
  // An account without a password (a provider's, or passkeys only) proves itself by a fresh sign-in.
  if (user.passwordHash === '' && !input.recentSignIn) {
    throw new AuthError('REAUTHENTICATION_REQUIRED', 'You signed in more than 10 minutes ago: sign in again to delete your account.')
  }
  if (user.passwordHash !== '' && input.password === undefined) throw validationError('password', 'is required')
  await deps.guard(user.id, async () => {
    if (user.passwordHash !== '' && !await deps.hasher.verify(user.passwordHash, input.password ?? '')) throw new AuthError('INVALID_CREDENTIALS', 'The password is incorrect.')
    if (user.mfaEnabled && (input.totpCode === undefined || !await deps.checkSecondFactor(user.id, input.totpCode))) {
      throw new AuthError('INVALID_MFA_CODE', 'The verification code is wrong, expired or already used.')
    }
  })
  // Before anything is removed, so that a record of the deletion (the user.deleted event)
  // is made while the account is whole, and each domain's cleanup sees it.
  await announce?.()
  const ended = await deleteAccount(deps, user)
  await deps.mailer.dispatch(accountDeletedMessage(user.email, deps.appOrigin, 'owner'))
  return ended
}
