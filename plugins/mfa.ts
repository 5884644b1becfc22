import fp from 'fastify-plugin'
import { BackupCodes } from '../src/backup-codes.js'
import { CryptoBox } from '../src/crypto-box.js'
import { MfaChallenges, type MfaDeps } from '../src/mfa.js'
import { TotpStore } from '../src/totp.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/mfa.ts take */
    mfa: MfaDeps
  }
}

export default fp(async (app) => {
  const prefix = app.config.REDIS_KEY_PREFIX
  const box = new CryptoBox(app.config.dataKeys)
  if (app.config.DATA_ENCRYPTION_KEY === undefined && app.config.NODE_ENV === 'development') {
    app.log.warn('DATA_ENCRYPTION_KEY is not set: using a key that lives as long as this process; 2FA enrolled now stops working after a restart')
  }
  app.decorate('mfa', {
    users: app.users,
    hasher: app.hasher,
    totp: new TotpStore(app.redis, prefix, box),
    backupCodes: new BackupCodes(app.redis, prefix),
    challenges: new MfaChallenges(app.redis, prefix, app.config.MFA_CHALLENGE_TTL),
    log: app.log.child({ module: 'mfa' }),
    // Integration point for the account failure backoff: wrong second-factor codes are
    // reported here (replace with the backoff's own "record a failure" call).
    onMfaFailure: async (userId: string) => {
      app.log.info({ userId }, 'wrong second-factor code')
    }
  })
}, { name: 'mfa', dependencies: ['config', 'redis', 'password-hasher', 'accounts'] })
