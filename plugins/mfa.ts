import fp from 'fastify-plugin'
import { BackupCodes } from '../src/mfa/backup-codes.js'
import { CryptoBox } from '../src/crypto/box.js'
import { MfaChallenges, type MfaDeps } from '../src/mfa/challenges.js'
import { TotpStore } from '../src/mfa/totp.js'

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
    // Wrong second-factor codes count toward the account's back-off like wrong passwords;
    // they are counted by user id (the password failures by the identifier typed).
    onMfaFailure: async (userId: string) => {
      app.log.info({ userId }, 'wrong second-factor code')
      await app.loginThrottle.recordFailure(userId)
    },
    beforeMfaAttempt: async (userId: string) => { await app.loginThrottle.assertAllowed(userId) },
    onMfaSuccess: async (userId: string) => { await app.loginThrottle.reset(userId) }
  })
}, { name: 'mfa', dependencies: ['config', 'redis', 'password-hasher', 'accounts', 'login-throttle', 'session'] })
