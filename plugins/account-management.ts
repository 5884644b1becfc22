import fp from 'fastify-plugin'
import { EmailChangeStore, type EmailChangeDeps } from '../src/accounts/email-change.js'
import { TOKEN_PURPOSES } from '../src/accounts/email-tokens.js'
import type { OwnDeletionDeps } from '../src/accounts/deletion.js'
import { checkSecondFactor } from '../src/mfa/challenges.js'
import { userDevicesKey, userEventsKey } from '../src/events/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/accounts/email-change.ts take */
    emailChange: EmailChangeDeps
    /** what deleteAccount and deleteOwnAccount (src/accounts/deletion.ts) take: every domain's cleanup */
    accountDeletion: OwnDeletionDeps
  }
}

export default fp(async (app) => {
  app.decorate('emailChange', {
    ...app.accounts,
    log: app.log.child({ module: 'email-change' }),
    emailChanges: new EmailChangeStore(app.redis),
    sessions: app.sessions,
    guardPassword: async (userId: string, check: () => Promise<void>) => { await app.loginThrottle.guard(userId, check) },
    endEmailSignIn: async (userId: string) => { await app.emailCode.codes.revoke(userId) }
  })
  const { totp, backupCodes } = app.mfa
  const identities = app.oauth.identities
  app.decorate('accountDeletion', {
    users: app.users,
    sessions: app.sessions,
    hasher: app.hasher,
    mailer: app.mailer,
    appOrigin: app.config.appOrigin,
    checkSecondFactor: async (userId: string, code: string) => await checkSecondFactor(app.mfa, userId, code),
    guard: async (userId: string, check: () => Promise<void>) => { await app.loginThrottle.guard(userId, check) },
    // The one list of what an account holds outside its record, by domain. A domain that
    // keeps something per user adds itself here.
    cleanups: {
      emailLinks: { cleanup: async (user) => { for (const purpose of TOKEN_PURPOSES) await app.emailTokens.revoke(purpose, user.id) } },
      twoFactor: { ownKeys: id => [totp.key(id), totp.pendingKey(id), totp.lastStepKey(id), backupCodes.key(id)] },
      identities: {
        ownKeys: id => [identities.userIdentitiesKey(id)],
        cleanup: async (user) => { await identities.removeAll(user.id) }
      },
      signInBackoff: { cleanup: async (user) => { await app.loginThrottle.reset(user.id) } },
      passkeys: { ownKeys: id => [app.passkeys.store.key(id)] },
      emailSignIn: { cleanup: async (user) => { await app.emailCode.codes.revoke(user.id) } },
      // The global stream keeps its events: they name the user only by an HMAC of the id.
      securityEvents: { ownKeys: id => [userEventsKey(app.config.redisKeyPrefix, id), userDevicesKey(app.config.redisKeyPrefix, id)] }
    }
  })
}, { name: 'account-management', dependencies: ['accounts', 'session', 'tokens', 'mfa', 'oauth', 'login-throttle', 'events', 'passkeys', 'email-code'] })
