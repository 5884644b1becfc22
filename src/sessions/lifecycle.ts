/*
 * The cookie session lifecycle as plain functions over the stores, the way Lucia's session
 * guide has it: sign in (create), validate, sign out (invalidate), rotate, end all.
 * @fastify/session moves the cookie and holds the request's session object, so functions
 * that act on the current session take the request. plugins/session.ts only builds the
 * deps and registers the hooks.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SerializeOptions } from '@fastify/cookie'
import { hmac } from '../crypto/secrets.js'
import { userFromFields, type User, type UserRepository } from '../accounts/users.js'
import { endAllSessions, type EndAllDeps } from './end-all.js'
import { RedisSessionStore, sessionDigest } from './store.js'
import { endFamilyOf } from '../tokens/lifecycle.js'
import type { EmitEvent, SignInMethod } from '../events/catalogue.js'
import type { SessionInfo } from '../http/schemas.js'

/**
 * How a request was authenticated. A CSRF check applies to `session` only: a bearer token
 * is never sent by a browser on its own, so a bearer request cannot be forged cross-site.
 */
export type RequestAuth =
  | { kind: 'session' }
  | { kind: 'bearer', familyId: string, expiresAt: Date }

export interface SessionDeps extends EndAllDeps {
  users: UserRepository
  /** keys the CSRF tokens (and, through @fastify/session, signs the cookie) */
  secret: string
  cookie: { name: string, options: SerializeOptions }
  /** users read with the session, moved onto their request by `takePrefetchedUser` */
  prefetched: WeakMap<FastifyRequest, User | null>
  /** records security events (the token functions take these deps too) */
  emit?: EmitEvent
}

export interface SignedIn { expiresAt: Date, csrfToken: string }

/** The request's session object, or null once it was destroyed. */
function sessionOf (request: FastifyRequest): FastifyRequest['session'] | null {
  return request.session as FastifyRequest['session'] | null
}

/** CSRF tokens lately computed, by session digest, with the secret they were made with. */
const csrfTokens = new Map<string, { secret: string, token: string }>()

/**
 * The CSRF token of the request's session: bound to it, useless with any other. Remembered
 * for a while (an HMAC is a good part of a `GET /me`, which answers it every time); past
 * 4,096 sessions the memory starts over, which only costs one HMAC each.
 */
export function csrfToken (deps: Pick<SessionDeps, 'secret'>, request: FastifyRequest): string {
  const d = sessionDigest(request.session.sessionId)
  const known = csrfTokens.get(d)
  if (known !== undefined && known.secret === deps.secret) return known.token
  const token = hmac(deps.secret, `csrf:${d}`)
  if (csrfTokens.size >= 4096) csrfTokens.clear()
  csrfTokens.set(d, { secret: deps.secret, token })
  return token
}

/** Digest of the request's signed-in session id: what the store and the index know it by. */
export function currentDigest (request: FastifyRequest): string | undefined {
  const session = sessionOf(request)
  return session?.userId === undefined ? undefined : sessionDigest(session.sessionId)
}

/**
 * What `endAllSessions(deps, userId, keep)` must spare to end the user's *other* sessions:
 * this cookie session's digest, or this bearer token's family id.
 */
export function currentKeep (request: FastifyRequest): string | undefined {
  return request.auth?.kind === 'bearer' ? request.auth.familyId : currentDigest(request)
}

/**
 * Replaces whatever session the request had with a new one for `user` (no fixation). The
 * session's creation time is when it authenticated (rotate keeps it): see `authenticatedAt`.
 */
export async function signIn (deps: Pick<SessionDeps, 'sessionStore' | 'secret'>, request: FastifyRequest, user: User, method: SignInMethod = 'password'): Promise<SignedIn> {
  // regenerate() deletes the old id from Redis and issues a new one.
  await request.session.regenerate()
  const now = Date.now()
  const s = request.session
  s.userId = user.id
  s.createdAt = now
  s.lastSeenAt = now
  s.absoluteExpiresAt = now + deps.sessionStore.absoluteTtlMs
  s.ip = request.ip
  s.userAgent = (request.headers['user-agent'] ?? '').slice(0, 256)
  // The version of the record the password was checked against, read before the check:
  // if a credential changed meanwhile, this session is born dead (validateSession).
  s.cv = user.credVersion
  if (method !== 'password') s.method = method
  await s.save()
  return { expiresAt: deps.sessionStore.expiresAt({ absoluteExpiresAt: s.absoluteExpiresAt }, now), csrfToken: csrfToken(deps, request) }
}

/**
 * Gives the request's signed-in session a new id, keeping its fields (user, creation time,
 * absolute expiry); the old id is deleted from Redis. After a password change.
 */
export async function rotate (deps: Pick<SessionDeps, 'sessionStore' | 'secret'>, request: FastifyRequest): Promise<SignedIn> {
  const old = request.session
  if (old.userId === undefined) throw new Error('rotate() needs a signed-in session')
  const now = Date.now()
  old.lastSeenAt = now
  // regenerate(keys) copies these fields into the new session, deletes the old id from
  // the store and saves the new one.
  await old.regenerate(['userId', 'createdAt', 'absoluteExpiresAt', 'lastSeenAt', 'ip', 'userAgent', 'userAgentRef', 'cv', 'method'])
  const s = request.session
  return { expiresAt: deps.sessionStore.expiresAt({ absoluteExpiresAt: s.absoluteExpiresAt ?? now }, now), csrfToken: csrfToken(deps, request) }
}

/**
 * A sign-in older than this proves the person no longer: adding a passkey asks for the
 * password again, and an account without one must sign in again to delete itself.
 */
export const REAUTHENTICATE_AFTER_MS = 10 * 60_000

/**
 * When the request's credentials were last proven, ms since the epoch: the cookie session's
 * creation (sign-in), or the bearer token family's (its login). 0 when unknown.
 */
export async function authenticatedAt (deps: Pick<EndAllDeps, 'tokenStore'>, request: FastifyRequest): Promise<number> {
  const auth = request.auth
  if (auth?.kind === 'bearer') {
    const family = (await deps.tokenStore.listForUser(request.user!.id)).find(f => f.familyId === auth.familyId)
    return family?.createdAt ?? 0
  }
  return sessionOf(request)?.createdAt ?? 0
}

/** Deletes the request's session in Redis and expires the cookie. */
export async function signOut (deps: Pick<SessionDeps, 'cookie'>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = sessionOf(request)
  if (session?.userId !== undefined) await session.destroy()
  reply.clearCookie(deps.cookie.name, deps.cookie.options)
}

/**
 * After the signed-in user changed a credential on this request: the session or token family
 * the request came with takes the user's new credential version, so it is the one thing that
 * outlives the change (every other one dies on its next use).
 */
export async function keepCurrent (deps: Pick<SessionDeps, 'users' | 'tokenStore'>, request: FastifyRequest): Promise<void> {
  const userId = request.user?.id
  if (userId === undefined) return
  const user = await deps.users.findById(userId)
  if (user === null) return
  if (request.auth?.kind === 'bearer') {
    await deps.tokenStore.setFamilyCredentials(userId, request.auth.familyId, user.credVersion)
  } else if (sessionOf(request)?.userId === userId) {
    request.session.cv = user.credVersion
    await request.session.save()
  }
}

/**
 * POST /logout: a bearer client ends its token family (by its access token, or by its refresh
 * token once the access token has expired), a browser its session (idempotent).
 * Whose token family or session ended, if one did.
 */
export async function logout (deps: SessionDeps, request: FastifyRequest, reply: FastifyReply, refreshToken?: string): Promise<{ userId: string, kind: 'cookie' | 'token' } | null> {
  const familyUser = await endFamilyOf(deps, request, refreshToken)
  const sessionUser = sessionOf(request)?.userId
  await signOut(deps, request, reply)
  if (familyUser !== null) return { userId: familyUser, kind: 'token' }
  return sessionUser === undefined ? null : { userId: sessionUser, kind: 'cookie' }
}

/** Expiry of the request's session as the client is told it (the access token's for a bearer). */
export function currentExpiry (deps: Pick<SessionDeps, 'sessionStore'>, request: FastifyRequest): Date {
  if (request.auth?.kind === 'bearer') return request.auth.expiresAt
  return deps.sessionStore.expiresAt({ absoluteExpiresAt: request.session.absoluteExpiresAt ?? Date.now() })
}

/**
 * Must run in the same turn as the store's read (right after @fastify/session's onRequest):
 * moves the user read with the session onto this request.
 */
export function takePrefetchedUser (deps: Pick<SessionDeps, 'sessionStore' | 'prefetched'>, request: FastifyRequest): void {
  const session = sessionOf(request)
  const userId = session?.userId
  if (userId === undefined) return
  const values = deps.sessionStore.prefetched(session!.sessionId)
  if (values === undefined) return
  const user = userFromFields(values)
  // Only a hash that belongs to this session's user is of use.
  if (user === null || user.id === userId) deps.prefetched.set(request, user)
}

/**
 * The active user of the request's cookie session, or null: no session, or (then the
 * user's sessions are ended) an account that is gone or was disabled since it began.
 */
export async function validateSession (deps: SessionDeps, request: FastifyRequest, reply: FastifyReply): Promise<User | null> {
  const userId = sessionOf(request)?.userId
  if (userId === undefined) return null
  // Usually read with the session in one Redis round trip; otherwise one more command.
  const user = deps.prefetched.has(request) ? (deps.prefetched.get(request) ?? null) : await deps.users.findById(userId)
  if (user !== null && !user.disabled) {
    if ((sessionOf(request)?.cv ?? 0) === user.credVersion) return user
    // Begun under credentials that have changed since (a reset, a password or 2FA change):
    // this session ends, the user's others are the change's business.
    await signOut(deps, request, reply)
    return null
  }
  await signOut(deps, request, reply)
  await endAllSessions(deps, userId)
  return null
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** Where a page of the session list starts: after the item with this `lastSeenAt` (ms) and id. */
export interface SessionCursor { lastSeenAt: number, id: string }

/** The cursor as the client sees it: `<lastSeenAt in base 36>.<id>`, opaque to it. */
export function encodeCursor (c: SessionCursor): string { return `${c.lastSeenAt.toString(36)}.${c.id}` }

/** Null for anything encodeCursor did not make. */
export function decodeCursor (text: string): SessionCursor | null {
  const m = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{16,64})$/.exec(text)
  return m === null ? null : { lastSeenAt: parseInt(m[1], 36), id: m[2] }
}

export interface SessionPage { sessions: SessionInfo[], nextCursor: string | null }

/**
 * Where the user is signed in: cookie sessions and token families, most recently seen first
 * (ties by id), `limit` at a time from `after`. An item that is used between two pages moves
 * to the front and is not seen again on later ones; every other item is seen exactly once.
 * The cookie sessions are bounded by the per-user maximum, so a page costs at most that many
 * reads whatever its size.
 */
export async function listSessions (deps: EndAllDeps, userId: string, current: string | undefined, page: { after?: SessionCursor, limit: number }): Promise<SessionPage> {
  const [sessions, families] = await Promise.all([deps.sessionStore.listForUser(userId), deps.tokenStore.listForUser(userId)])
  const all = [
    ...sessions.map(s => ({
      id: s.handle,
      kind: 'cookie' as const,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt.getTime(),
      ip: s.ip,
      userAgent: s.userAgent,
      method: s.method ?? 'password',
      current: s.digest === current
    })),
    ...families.map(f => ({
      id: f.familyId,
      kind: 'token' as const,
      createdAt: f.createdAt,
      lastSeenAt: f.lastSeenAt,
      expiresAt: f.expiresAt,
      ip: f.ip,
      userAgent: f.userAgent,
      method: f.method,
      current: f.familyId === current
    }))
  ].sort((a, b) => b.lastSeenAt - a.lastSeenAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const after = page.after
  const rest = after === undefined ? all : all.filter(x => x.lastSeenAt < after.lastSeenAt || (x.lastSeenAt === after.lastSeenAt && x.id > after.id))
  const shown = rest.slice(0, page.limit)
  const last = shown.at(-1)
  return {
    sessions: shown.map(x => ({ ...x, createdAt: iso(x.createdAt), lastSeenAt: iso(x.lastSeenAt), expiresAt: iso(x.expiresAt) })),
    nextCursor: rest.length > shown.length && last !== undefined ? encodeCursor(last) : null
  }
}

/**
 * Ends one of the user's own sessions or token families by its public id; false when the
 * user has none by that id (only the user's own index is searched). Ending the current
 * cookie session also expires the cookie.
 */
export async function endSession (deps: SessionDeps, request: FastifyRequest, reply: FastifyReply, userId: string, id: string): Promise<boolean> {
  const current = request.auth?.kind === 'session' ? currentDigest(request) : undefined
  if (current !== undefined && RedisSessionStore.handleOf(current) === id) {
    await signOut(deps, request, reply)
    return true
  }
  return await deps.sessionStore.destroyByHandle(userId, id) || await deps.tokenStore.endFamily(userId, id)
}
