import type { FastifyBaseLogger } from 'fastify'
import type { Mailer } from '../mail/delivery.js'
import { message } from '../mail/templates.js'
import { normalizeEmail, parseEmail, type User, type UserRepository } from '../accounts/users.js'
import type { IdentityStore, Identity } from './identities.js'
import type { ProviderSpec } from './providers.js'
import { OAuthError, type ProviderProfile } from './client.js'
import type { EmitEvent } from '../events/catalogue.js'

export interface OAuthAccountDeps {
  users: UserRepository
  identities: IdentityStore
  mailer: Mailer
  log: FastifyBaseLogger
  appOrigin: string
  /** a new identity with a verified email that matches no account creates one */
  autoCreate: boolean
  /** records security events (an account created from an identity) */
  emit?: EmitEvent
}

/** A provider's verified address in the form accounts are indexed by, or null. */
function verifiedEmail (profile: ProviderProfile): string | null {
  if (!profile.emailVerified || profile.email === null) return null
  try {
    return parseEmail(profile.email)
  } catch {
    return null
  }
}

/**
 * The account a provider identity signs in to, by the rules the well-known takeovers teach:
 * - a linked identity (issuer + subject) signs in to its account, whatever its email says now;
 * - an unlinked one never signs in to an existing account by email, verified or not: the
 *   owner signs in the usual way and links it (a provider that does not check addresses,
 *   or a recycled address, would otherwise hand over the account);
 * - an unlinked one with a provider-verified email that matches no account creates a
 *   verified account without a password (when autoCreate is on), linked to it.
 */
export async function accountForIdentity (deps: OAuthAccountDeps, provider: ProviderSpec, profile: ProviderProfile): Promise<User> {
  const linked = await deps.identities.userOf(profile.issuer, profile.subject)
  if (linked !== null) {
    const user = await deps.users.findById(linked)
    if (user === null) throw new OAuthError('OAUTH_FAILED', 'identity linked to a missing account')
    if (user.disabled) throw new OAuthError('ACCOUNT_DISABLED')
    return user
  }
  const email = verifiedEmail(profile)
  // The same answer whether or not an unverified address belongs to an account.
  if (email === null) throw new OAuthError('OAUTH_EMAIL_UNVERIFIED', 'no provider-verified email')
  if (await deps.users.findByEmail(email) !== null) throw new OAuthError('OAUTH_LINK_REQUIRED', 'email matches an existing account')
  if (!deps.autoCreate) throw new OAuthError('OAUTH_SIGNUP_DISABLED')
  const created = await deps.users.create({
    email,
    // No password: password login fails for this account like a wrong password, at the
    // same cost (PasswordHasher.verify checks a dummy hash for an empty one).
    passwordHash: '',
    emailVerified: true,
    firstName: profile.givenName?.normalize('NFKC').slice(0, 64) ?? null,
    lastName: profile.familyName?.normalize('NFKC').slice(0, 64) ?? null
  })
  // A registration of the same address won the race.
  if (!created.ok) throw new OAuthError('OAUTH_LINK_REQUIRED', 'email taken meanwhile')
  const link = await deps.identities.link(created.user.id, identityInput(provider, profile))
  if (!link.ok) throw new OAuthError('OAUTH_FAILED', 'identity claimed concurrently')
  deps.log.info({ userId: created.user.id, provider: provider.id }, 'account created from a provider identity')
  await deps.emit?.({ type: 'user.signed_up', userId: created.user.id, data: { method: 'provider', provider: provider.id } })
  return created.user
}

function identityInput (provider: ProviderSpec, profile: ProviderProfile): Omit<Identity, 'id' | 'userId' | 'linkedAt'> {
  return {
    provider: provider.id,
    issuer: profile.issuer,
    subject: profile.subject,
    email: profile.email === null ? null : normalizeEmail(profile.email).slice(0, 254)
  }
}

/**
 * Links a provider identity to the signed-in user who asked for it (the flow carried the
 * user's id from POST /oauth/:provider/link). The identity's email need not match the
 * account's: the user proved both. The account's address is told about the link.
 */
export async function linkIdentity (deps: OAuthAccountDeps, user: User, provider: ProviderSpec, profile: ProviderProfile): Promise<Identity> {
  if (user.disabled) throw new OAuthError('ACCOUNT_DISABLED')
  const link = await deps.identities.link(user.id, identityInput(provider, profile))
  if (!link.ok) throw new OAuthError('OAUTH_IDENTITY_TAKEN', 'identity linked to another account')
  deps.log.info({ userId: user.id, provider: provider.id }, 'identity linked')
  await deps.mailer.dispatch(identityLinkedMessage(user.email, deps.appOrigin, provider.name))
  return link.identity
}

export function identityLinkedMessage (to: string, appOrigin: string, providerName: string): ReturnType<typeof message> {
  return message(to, `${providerName} sign-in was linked to your account`, [
    `A ${providerName} account was just linked to your Gatehouse account: it can now be used to sign in.`,
    'If this was not you, sign in, remove it from your linked identities, and change your password.'
  ], { url: `${appOrigin}/`, label: 'Review your account' })
}
