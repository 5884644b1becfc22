import t from 'tap'
import Fastify from 'fastify'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { EmailTokens } from '../../src/accounts/email-tokens.js'
import { Mailer } from '../../src/mail/delivery.js'
import { PasswordHasher } from '../../src/accounts/passwords.js'
import { changePassword, requestPasswordReset, resetPassword, type RecoveryDeps } from '../../src/accounts/recovery.js'
import { RedisSessionStore, sessionDigest } from '../../src/sessions/store.js'
import { TokenStore } from '../../src/tokens/store.js'
import { UserRepository } from '../../src/accounts/users.js'
import { AuthError } from '../../src/http/errors.js'
import { startTestRedis } from '../helper.js'

const OLD = 'old harbour lights 42'
const NEW = 'new quiet river seven'

/** The domain functions with real collaborators: Redis, Argon2 (cheap settings), the outbox. */
async function deps (t: Parameters<typeof startTestRedis>[0]): Promise<{ d: RecoveryDeps, redis: Redis, store: RedisSessionStore, outbox: string }> {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-recovery-'))
  const logger = Fastify({ logger: false })
  const mailer = new Mailer({ from: 'Gatehouse <no-reply@gatehouse.test>', outboxDir: outbox, sendTimeoutMs: 1000, log: logger.log })
  const store = new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 60_000, absoluteTtlMs: 120_000 })
  t.teardown(async () => {
    await mailer.close()
    redis.disconnect()
    await rm(outbox, { recursive: true, force: true })
  })
  const d: RecoveryDeps = {
    users: new UserRepository(redis, 'gh:'),
    hasher: new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    emailTokens: new EmailTokens(redis, 'gh:'),
    mailer,
    log: logger.log,
    appOrigin: 'https://gatehouse.test',
    resetTokenTtlMs: 1_800_000,
    sessions: { sessionStore: store, tokenStore: new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 120_000 }) }
  }
  return { d, redis, store, outbox }
}

async function user (d: RecoveryDeps, email: string, extra: { disabled?: boolean, emailVerified?: boolean } = {}) {
  const created = await d.users.create({ email, passwordHash: await d.hasher.hash(OLD), emailVerified: extra.emailVerified ?? true })
  if (!created.ok) throw new Error('not created')
  if (extra.disabled === true) await d.users.update(created.user.id, { disabled: true })
  return (await d.users.findById(created.user.id))!
}

async function tokenFor (outbox: string): Promise<string> {
  const files = (await readdir(outbox)).filter(f => f.endsWith('.eml')).sort()
  const raw = (await readFile(join(outbox, files.at(-1)!), 'utf8')).replace(/=\r?\n/g, '').replace(/=3D/g, '=')
  return raw.match(/reset-password\?token=([A-Za-z0-9_-]+)/)![1]
}

t.test('an unknown or disabled address leaves no token, no key and no mail behind', async t => {
  const { d, redis, outbox } = await deps(t)
  await user(d, 'off@example.com', { disabled: true })
  const keys = (await redis.keys('*')).sort()
  await requestPasswordReset(d, 'nobody@example.com')
  await requestPasswordReset(d, 'OFF@example.com ')
  t.same((await redis.keys('*')).sort(), keys)
  t.same(await readdir(outbox), [])
})

t.test('reset: an unverified account becomes verified, sessions end, the notice is mailed', async t => {
  const { d, store, outbox } = await deps(t)
  const u = await user(d, 'new@example.com', { emailVerified: false })
  await store.write('sid-1', { userId: u.id })
  await store.write('sid-2', { userId: u.id })
  await requestPasswordReset(d, 'new@example.com')
  const token = await tokenFor(outbox)
  await resetPassword(d, token, NEW)
  const after = (await d.users.findById(u.id))!
  t.equal(after.emailVerified, true)
  t.ok(await d.hasher.verify(after.passwordHash, NEW))
  t.same(await store.listForUser(u.id), [])
  t.equal((await readdir(outbox)).length, 2, 'the link and the notice')
})

t.test('reset: a disabled account gets INVALID_TOKEN even with a live link, and the password stays', async t => {
  const { d, outbox } = await deps(t)
  const u = await user(d, 'soon-off@example.com')
  await requestPasswordReset(d, u.email)
  const token = await tokenFor(outbox)
  await d.users.update(u.id, { disabled: true })
  await t.rejects(resetPassword(d, token, NEW), new AuthError('INVALID_TOKEN'))
  t.ok(await d.hasher.verify((await d.users.findById(u.id))!.passwordHash, OLD))
})

t.test('change: keeps the named session, ends the others, refuses the same password', async t => {
  const { d, store } = await deps(t)
  const u = await user(d, 'chg@example.com')
  await store.write('keep-me', { userId: u.id })
  await store.write('end-me', { userId: u.id })
  await t.rejects(changePassword(d, u, { currentPassword: OLD, newPassword: OLD }, undefined), { code: 'VALIDATION_FAILED', fieldErrors: { newPassword: ['must differ from the current password'] } })
  await t.rejects(changePassword(d, u, { currentPassword: 'wrong password here', newPassword: NEW }, undefined), { code: 'INVALID_CREDENTIALS' })
  t.equal((await store.listForUser(u.id)).length, 2, 'nothing ended by a refused change')
  await changePassword(d, u, { currentPassword: OLD, newPassword: NEW }, sessionDigest('keep-me'))
  t.same((await store.listForUser(u.id)).map(s => s.digest), [sessionDigest('keep-me')])
  t.ok(await d.hasher.verify((await d.users.findById(u.id))!.passwordHash, NEW))
})
