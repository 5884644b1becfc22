/** Shared by the 2FA route tests: requests, an enrolled user, Redis inspection. */
import type { Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import type { TestContext } from '../helper.js'
import { Authenticator } from './totp.js'
import { cookieOf, PASSWORD, signedInUser } from './users.js'

export const KEY = `t1:${randomBytes(32).toString('base64')}`

const sentCookie = new WeakMap<LightMyRequestResponse, string>()

export async function post (ctx: TestContext, url: string, payload: unknown, cookie?: string): Promise<LightMyRequestResponse> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/api/auth${url}`,
    payload: payload as Record<string, unknown>,
    headers: cookie === undefined ? {} : { cookie }
  })
  if (cookie !== undefined) sentCookie.set(res, cookie)
  return res
}

export async function me (ctx: TestContext, cookie: string): Promise<LightMyRequestResponse> {
  return await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })
}

export interface Enrolled {
  email: string
  userId: string
  cookie: string
  secret: string
  auth: Authenticator
  backupCodes: string[]
  setup: Record<string, string>
}

/** Registers, signs in, and turns TOTP on through the API, as a person with an app would. */
export async function enrolledUser (ctx: TestContext): Promise<Enrolled> {
  const u = await signedInUser(ctx)
  const setup = await post(ctx, '/2fa/setup', { password: PASSWORD }, u.cookie)
  if (setup.statusCode !== 200) throw new Error(`setup answered ${setup.statusCode}: ${setup.body}`)
  const body = setup.json()
  const auth = new Authenticator(body.secret)
  const enable = await post(ctx, '/2fa/enable', { code: await auth.next() }, u.cookie)
  if (enable.statusCode !== 200) throw new Error(`enable answered ${enable.statusCode}: ${enable.body}`)
  return { email: u.email, userId: u.userId, cookie: u.cookie, secret: body.secret, auth, backupCodes: enable.json().backupCodes, setup: body }
}

export async function login (ctx: TestContext, email: string, extra: Record<string, unknown> = {}): Promise<LightMyRequestResponse> {
  return await post(ctx, '/login', { email, password: PASSWORD, ...extra })
}

export function assertLoginSuccess (t: Test, res: LightMyRequestResponse, email: string): void {
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['csrfToken', 'message', 'session', 'user'])
  t.equal(body.message, 'Login successful')
  t.equal(body.user.email, email)
  t.equal(body.user.mfaEnabled, true)
  t.ok(cookieOf(res), 'a session cookie')
}

export function assertProblem (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, res.body)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, code)
  // A signed-in request gets its own cookie back (sliding expiry); nothing else may appear.
  const sent = sentCookie.get(res)
  const got = cookieOf(res)
  t.ok(got === undefined || got === sent, 'no new session cookie')
}

/** Every key and value in Redis as text, to search for things that must not be there. */
export async function dumpRedis (ctx: TestContext): Promise<string> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      out.push(key)
      const type = await ctx.redis.type(key)
      if (type === 'string') out.push(await ctx.redis.get(key) ?? '')
      else if (type === 'hash') out.push(...Object.entries(await ctx.redis.hgetall(key)).flat())
      else if (type === 'set') out.push(...await ctx.redis.smembers(key))
      else if (type === 'zset') out.push(...await ctx.redis.zrange(key, 0, -1, 'WITHSCORES'))
      else if (type === 'list') out.push(...await ctx.redis.lrange(key, 0, -1))
      else if (type === 'stream') out.push(...(await ctx.redis.xrange(key, '-', '+')).flat(2))
      else out.push(`unread type ${type}`)
    }
  } while (cursor !== '0')
  return out.join('\n')
}

/** The 2FA state of a user as Redis holds it, to show a refused request changed nothing. */
export async function mfaState (ctx: TestContext, userId: string): Promise<unknown> {
  const r = ctx.redis
  return {
    mfaEnabled: await r.hget(`gh:user:{${userId}}`, 'mfaEnabled'),
    updatedAt: await r.hget(`gh:user:{${userId}}`, 'updatedAt'),
    totp: await r.hgetall(`gh:user:{${userId}}:totp`),
    pending: await r.hgetall(`gh:user:{${userId}}:totp:pending`),
    backup: (await r.smembers(`gh:user:{${userId}}:backup-codes`)).sort(),
    sessions: (await ctx.app.sessionStore.indexed(userId)).sort()
  }
}
