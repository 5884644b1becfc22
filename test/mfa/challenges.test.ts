import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import { BackupCodes } from '../../src/mfa/backup-codes.js'
import { CryptoBox, parseKeyRing } from '../../src/crypto/box.js'
import { AuthError } from '../../src/http/errors.js'
import { disableTotp, enableTotp, loginStep, MfaChallenges, setupTotp, verifyChallenge, type MfaDeps } from '../../src/mfa/challenges.js'
import { PasswordHasher } from '../../src/accounts/passwords.js'
import { TotpStore } from '../../src/mfa/totp.js'
import { UserRepository, type User } from '../../src/accounts/users.js'
import { startTestRedis, Authenticator } from '../helper.js'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { TokenStore } from '../../src/tokens/store.js'

const PASSWORD = 'correct horse battery staple'

async function setup (t: Test): Promise<{ deps: MfaDeps, failures: string[], redis: Redis }> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const failures: string[] = []
  const deps: MfaDeps = {
    users: new UserRepository(redis, 'gh:'),
    hasher: new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    totp: new TotpStore(redis, 'gh:', new CryptoBox(parseKeyRing(randomBytes(32).toString('hex')))),
    backupCodes: new BackupCodes(redis, 'gh:'),
    challenges: new MfaChallenges(redis, 'gh:', 300_000),
    log: Fastify({ logger: false }).log,
    onMfaFailure: async (userId) => { failures.push(userId) },
    sessions: {
      sessionStore: new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 60_000, absoluteTtlMs: 120_000 }),
      tokenStore: new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 120_000 })
    }
  }
  return { deps, failures, redis }
}

async function newUser (deps: MfaDeps): Promise<User> {
  const created = await deps.users.create({ email: `u${randomBytes(4).toString('hex')}@example.com`, passwordHash: await deps.hasher.hash(PASSWORD), emailVerified: true })
  if (!created.ok) throw new Error('could not create user')
  return created.user
}

async function enrolled (deps: MfaDeps): Promise<{ user: User, auth: Authenticator, codes: string[] }> {
  const user = await newUser(deps)
  const s = await setupTotp(deps, user, PASSWORD, 'session-a')
  const auth = new Authenticator(s.secret)
  const codes = await enableTotp(deps, user, await auth.next(), 'session-a')
  return { user: (await deps.users.findById(user.id))!, auth, codes }
}

t.test('loginStep: no 2FA signs in, 2FA without a code gets a challenge, a wrong inline code is reported', async t => {
  const { deps, failures } = await setup(t)
  const plain = await newUser(deps)
  t.equal(await loginStep(deps, plain), null)
  t.equal(await loginStep(deps, plain, '000000'), null)

  const { user, auth } = await enrolled(deps)
  t.equal(user.mfaEnabled, true)
  const challenge = await loginStep(deps, user)
  t.match(challenge, { mfaRequired: true, mfaMethods: ['totp', 'backup_code'], expiresIn: 300 })
  await t.rejects(loginStep(deps, user, auth.codeAgo(3)), { code: 'INVALID_MFA_CODE' })
  t.same(failures, [user.id], 'the failure hook got the user')
  t.equal(await loginStep(deps, user, await auth.next()), null)
  t.same(failures, [user.id])
})

t.test('verifyChallenge reports each wrong code and lets the backoff refuse the attempt', async t => {
  const { deps, failures } = await setup(t)
  const { user, auth, codes } = await enrolled(deps)
  const c = await loginStep(deps, user)
  await t.rejects(verifyChallenge(deps, { mfaToken: c!.mfaToken, code: auth.codeAgo(4) }), { code: 'INVALID_MFA_CODE' })
  await t.rejects(verifyChallenge(deps, { mfaToken: c!.mfaToken, code: 'ABCD-EFGH-JKMN-PQRS' }), { code: 'INVALID_MFA_CODE' })
  t.same(failures, [user.id, user.id])
  const signedIn = await verifyChallenge(deps, { mfaToken: c!.mfaToken, code: codes[0] })
  t.equal(signedIn.user.id, user.id)
  t.equal(signedIn.grant, 'session')
  t.equal(failures.length, 2, 'success is not a failure')

  // a backoff that says "too many" turns the wrong code into its own answer
  deps.onMfaFailure = async () => { throw new AuthError('RATE_LIMITED', 'slow down', { retryAfter: 7 }) }
  const c2 = await loginStep(deps, user)
  await t.rejects(verifyChallenge(deps, { mfaToken: c2!.mfaToken, code: auth.codeAgo(4) }), { code: 'RATE_LIMITED', retryAfter: 7 })
  await t.rejects(disableTotp(deps, user, PASSWORD, auth.codeAgo(4)), { code: 'RATE_LIMITED' })
  await t.rejects(loginStep(deps, user, auth.codeAgo(4)), { code: 'RATE_LIMITED' })
})

t.test('enabling needs the pending setup of the same session', async t => {
  const { deps } = await setup(t)
  const user = await newUser(deps)
  await t.rejects(setupTotp(deps, user, 'wrong password', 's1'), { code: 'INVALID_CREDENTIALS' })
  const s = await setupTotp(deps, user, PASSWORD, 's1')
  const auth = new Authenticator(s.secret)
  await t.rejects(enableTotp(deps, user, await auth.next(), 's2'), { code: 'MFA_SETUP_REQUIRED' })
  t.equal((await deps.users.findById(user.id))!.mfaEnabled, false)
  const codes = await enableTotp(deps, user, await auth.next(), 's1')
  t.equal(codes.length, 10)
  t.equal((await deps.users.findById(user.id))!.mfaEnabled, true)
})

t.test('two enables racing with codes of two different steps: one wins, one set of backup codes exists', async t => {
  const { deps, redis } = await setup(t)
  const user = await newUser(deps)
  const s = await setupTotp(deps, user, PASSWORD, 's1')
  const auth = new Authenticator(s.secret)
  const codes = [await auth.next(), await auth.next()]
  const results = await Promise.allSettled(codes.map(async c => await enableTotp(deps, user, c, 's1')))
  const won = results.filter(r => r.status === 'fulfilled')
  t.equal(won.length, 1)
  const lost = results.find(r => r.status === 'rejected') as PromiseRejectedResult
  t.match(lost.reason, { code: /^(MFA_SETUP_REQUIRED|INVALID_MFA_CODE)$/ })
  const shown = (won[0] as PromiseFulfilledResult<string[]>).value
  t.equal(await redis.scard(`gh:user:{${user.id}}:backup-codes`), 10)
  t.equal(await deps.backupCodes.consume(user.id, shown[0]), true, 'the codes shown are the ones stored')
})
