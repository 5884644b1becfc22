import fp from 'fastify-plugin'
import { BackupCodes } from '../src/mfa/backup-codes.js'
import { CryptoBox } from '../src/crypto/box.js'
import { MfaChallenges, type MfaDeps } from '../src/mfa/challenges.js'
import { TotpStore } from '../src/mfa/totp.js'
import { mfaChangedMessage } from '../src/mfa/mfa-mail.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/mfa/challenges.ts take */
    mfa: MfaDeps
  }
}

export default fp(async (app) => {
  const prefix = app.config.redisKeyPrefix
  const box = new CryptoBox(app.config.dataKeys)
  if (app.config.ephemeralKeys) {
    app.log.warn('DATA_ENCRYPTION_KEY is not set: using a key that lives as long as this process; 2FA enrolled now stops working after a restart')
  }
  app.decorate('mfa', {
    users: app.users,
    hasher: app.hasher,
    totp: new TotpStore(app.redis, prefix, box),
    backupCodes: new BackupCodes(app.redis, prefix),
    challenges: new MfaChallenges(app.redis, prefix, app.config.mfaChallengeTtlMs),
    log: app.log.child({ module: 'mfa' }),
    sessions: app.sessions,
    // Every second-factor check spends the account's one back-off budget (by user id, as the
    // password checks do): the attempt is reserved before the code is checked, so a burst
    // across several challenges is counted as it arrives; a right code resets the budget.
    onMfaFailure: async (userId: string) => {
      app.log.info({ userId }, 'wrong second-factor code')
    },
    beforeMfaAttempt: async (userId: string) => { await app.loginThrottle.reserve(userId) },
    onMfaSuccess: async (userId: string) => { await app.loginThrottle.reset(userId) },
    notifyChange: async (user, change) => { await app.mailer.dispatch(mfaChangedMessage(user.email, app.config.appOrigin, change, new Date())) },
    passkeyCount: async (userId: string) => await app.passkeys.store.count(userId),
    guardPassword: async (userId: string, check: () => Promise<void>, completes = true) => { await app.loginThrottle.guard(userId, check, undefined, () => completes) }
  })
}, { name: 'mfa', dependencies: ['config', 'redis', 'password-hasher', 'accounts', 'login-throttle', 'session', 'passkeys'] })
