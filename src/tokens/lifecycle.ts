/*
 * The bearer token lifecycle as plain functions over the token store: a login issues a
 * family, a refresh spends its refresh token for the next pair, a request authenticates
 * with its access token, logout ends the family. plugins/tokens.ts only builds the deps.
 */
import type { FastifyRequest } from 'fastify'
import type { SignInMethod } from '../events/catalogue.js'
import { AuthError } from '../http/errors.js'
import type { User, UserRepository } from '../accounts/users.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'
import type { AccessGrant, IssuedTokens } from './store.js'
import type { EmitEvent } from '../events/catalogue.js'
import { eventOrigin } from '../events/store.js'

export interface TokenDeps extends EndAllDeps {
  users: UserRepository
  /** records security events (a reused refresh token) */
  emit?: EmitEvent
}

/** The body of a token grant, as POST /token and POST /token/refresh answer. */
export interface TokenGrant {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
  expiresAt: string
  refreshToken: string
}

function grant (t: IssuedTokens): TokenGrant {
  return { accessToken: t.accessToken, tokenType: 'Bearer', expiresIn: t.expiresIn, expiresAt: t.expiresAt.toISOString(), refreshToken: t.refreshToken }
}

const invalidRefresh = (): AuthError => new AuthError('UNAUTHENTICATED', 'The refresh token is invalid, expired or already used.')

/** The token of an `Authorization: Bearer <token>` header; undefined without that scheme. */
export function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  // Scanned by hand, not by a regex: `^Bearer[ \t]+(\S*)[ \t]*$` backtracks quadratically
  // on "Bearer" + many spaces + a non-space, and the header is the client's to choose.
  if (header.slice(0, 6).toLowerCase() !== 'bearer') return undefined
  const n = header.length
  if (n > 6 && /\w/.test(header[6])) return undefined
  let i = 6
  while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
  // "Bearer" with nothing usable after it is still a bearer attempt, and must fail as one.
  if (i === 6) return ''
  let j = i
  while (j < n && !/\s/.test(header[j])) j++
  let k = j
  while (k < n && (header[k] === ' ' || header[k] === '\t')) k++
  return k === n ? header.slice(i, j) : ''
}

/**
 * True when a family's tokens were minted under credentials the user no longer has (a reset,
 * a password or 2FA change since), unless the family is the one the change was made with:
 * that one recorded the new version in its hash (`keepCurrent`).
 */
async function staleFamily (deps: Pick<TokenDeps, 'tokenStore'>, user: User, userId: string, familyId: string, cv: number): Promise<boolean> {
  return cv !== user.credVersion && await deps.tokenStore.familyCredentials(userId, familyId) !== user.credVersion
}

/**
 * Starts a token family for `user`, whose credentials (and, with 2FA, second factor) have
 * been checked. POST /token calls it; the 2FA step of a token login calls it too.
 */
export async function issueTokens (deps: Pick<TokenDeps, 'tokenStore'>, request: FastifyRequest, user: User, method: SignInMethod = 'password'): Promise<TokenGrant> {
  // The credential version of the record the password was checked against (see User.credVersion).
  const issued = await deps.tokenStore.issue(user.id, { ip: request.ip, userAgent: request.headers['user-agent'] ?? '', ...(method === 'password' ? {} : { method }) }, user.credVersion)
  request.log.info({ userId: user.id, familyId: issued.familyId }, 'token login')
  return grant(issued)
}

/** Spends `refreshToken` and issues the next pair; reuse of a spent one ends its family. */
export async function refreshTokens (deps: TokenDeps, request: FastifyRequest, refreshToken: string): Promise<TokenGrant> {
  const spent = await deps.tokenStore.spend(refreshToken)
  if (!spent.ok) {
    if (spent.reason === 'reused') {
      request.log.warn({ userId: spent.userId, familyId: spent.familyId }, 'spent refresh token presented again; token family ended')
      if (spent.userId !== undefined) await deps.emit?.({ type: 'token.family_revoked', userId: spent.userId, ...eventOrigin(request), data: { reason: 'reuse' } })
    }
    throw invalidRefresh()
  }
  const user = await deps.users.findById(spent.userId)
  if (user === null || user.disabled) {
    await endAllSessions(deps, spent.userId)
    throw invalidRefresh()
  }
  if (await staleFamily(deps, user, spent.userId, spent.familyId, spent.cv)) {
    await deps.tokenStore.endFamily(spent.userId, spent.familyId)
    throw invalidRefresh()
  }
  const next = await deps.tokenStore.rotate(spent.userId, spent.familyId, refreshToken, user.credVersion)
  if (next === null) throw invalidRefresh()
  return grant(next)
}

/**
 * The active user of an access token and its grant. Throws UNAUTHENTICATED for a token that
 * is malformed, unknown, expired or revoked, and for an account that is gone or disabled
 * (whose sessions and token families are then ended).
 */
export async function authenticateBearer (deps: TokenDeps, token: string): Promise<{ user: User, grant: AccessGrant }> {
  const g = await deps.tokenStore.authenticate(token)
  if (g === null) throw new AuthError('UNAUTHENTICATED', 'The access token is invalid or expired.')
  const user = await deps.users.findById(g.userId)
  if (user === null || user.disabled) {
    await endAllSessions(deps, g.userId)
    throw new AuthError('UNAUTHENTICATED')
  }
  if (await staleFamily(deps, user, g.userId, g.familyId, g.cv)) {
    await deps.tokenStore.endFamily(g.userId, g.familyId)
    throw new AuthError('UNAUTHENTICATED')
  }
  return { user, grant: g }
}

/** Ends the token family of the request's bearer token, if it presents a live one. */
export async function endFamilyOf (deps: Pick<TokenDeps, 'tokenStore'>, request: FastifyRequest): Promise<string | null> {
  const g = await deps.tokenStore.authenticate(bearerToken(request) ?? '')
  return g !== null && await deps.tokenStore.endFamily(g.userId, g.familyId) ? g.userId : null
}
