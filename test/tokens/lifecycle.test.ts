import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { RedisSessionStore } from '../../src/sessions/store.js'
import { TokenStore } from '../../src/tokens/store.js'
import { UserRepository } from '../../src/accounts/users.js'
import { authenticateBearer, issueTokens, refreshTokens, type TokenDeps } from '../../src/tokens/lifecycle.js'
import { randomToken } from '../../src/crypto/secrets.js'
import { startTestRedis } from '../helper.js'

t.test('the token lifecycle without Fastify: issue, refresh, reuse, and a disabled account', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const deps: TokenDeps = {
    sessionStore: new RedisSessionStore(redis, { prefix: 'gh:', ttlMs: 600_000, absoluteTtlMs: 3_600_000 }),
    tokenStore: new TokenStore(redis, { prefix: 'gh:', accessTtl: 60_000, refreshTtl: 600_000 }),
    users: new UserRepository(redis, 'gh:')
  }
  const created = await deps.users.create({ email: 'tokens@example.com', passwordHash: 'not a real hash', emailVerified: true })
  if (!created.ok) throw new Error('could not create the user')
  const user = created.user
  // Only what the functions read from a request: the client's address, agent and logger.
  const request = { ip: '203.0.113.9', headers: { 'user-agent': 'unit' }, log: Fastify({ logger: false }).log } as unknown as FastifyRequest

  const first = await issueTokens(deps, request, user)
  t.equal(first.tokenType, 'Bearer')
  t.equal((await authenticateBearer(deps, first.accessToken)).user.id, user.id)

  const second = await refreshTokens(deps, request, first.refreshToken)
  t.not(second.refreshToken, first.refreshToken)
  await t.rejects(refreshTokens(deps, request, first.refreshToken), { code: 'UNAUTHENTICATED' }, 'a spent refresh token is refused')
  await t.rejects(authenticateBearer(deps, second.accessToken), { code: 'UNAUTHENTICATED' }, 'and its reuse ended the family')

  const third = await issueTokens(deps, request, user)
  const fourth = await issueTokens(deps, request, user)
  const cookie = randomToken(32)
  await deps.sessionStore.write(cookie, { userId: user.id })
  await deps.users.update(user.id, { disabled: true })
  await t.rejects(authenticateBearer(deps, third.accessToken), { code: 'UNAUTHENTICATED' })
  t.equal(await deps.tokenStore.authenticate(fourth.accessToken), null, 'a disabled account loses every family')
  t.equal(await deps.sessionStore.read(cookie), null, 'and every cookie session')
  await t.rejects(refreshTokens(deps, request, fourth.refreshToken), { code: 'UNAUTHENTICATED' })
})
