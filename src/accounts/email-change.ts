import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { AuthError, validationError } from '../http/errors.js'
import type { AccountDeps } from './registration.js'
import { normalizeEmail, parseEmail, type User } from './users.js'
import { addressInUseMessage, confirmEmailChangeMessage, emailChangeNoticeMessage } from './account-mail.js'
import { endAllSessions, type EndAllDeps } from '../sessions/end-all.js'

/**
 * KEYS[1] the user's hash  KEYS[2] the user's pointer to their live email-change token
 * ARGV[1] the digest of the token presented  ARGV[2] the new address  ARGV[3] now (ISO time)
 * Moves the account to the new address if the link is the live one and still names the
 * pending address, and spends the link in the same step. Returns 1 when written.
 */
const CONFIRM_EMAIL_LUA: LuaScript = {
  keys: ['userKey', 'pointerKey'],
  argv: ['digest', 'newEmail', 'now'],
  lua: `
-- KEYS[1] the user's hash; KEYS[2] the pointer to the live email-change token
-- ARGV[1] the token's digest; ARGV[2] the new address; ARGV[3] now (ISO time)
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'pendingEmail') ~= ARGV[2] then return 0 end
local old = redis.call('HGET', KEYS[1], 'email')
redis.call('HSET', KEYS[1], 'email', ARGV[2], 'previousEmail', old, 'updatedAt', ARGV[3])
redis.call('HDEL', KEYS[1], 'pendingEmail')
redis.call('DEL', KEYS[2])
return 1
`
}

/**
 * KEYS[1] the user's hash  KEYS[2] the user's pointer to their live "this wasn't me" token
 * ARGV[1] the digest of the token presented  ARGV[2] now (ISO time)  ARGV[3] the address to go back to ('' to keep the current one)
 * Undoes the change: drops a pending address, puts the previous address back when asked,
 * counts a change of credentials (every session dies) and spends the link. Returns 1 when done.
 */
const CANCEL_EMAIL_LUA: LuaScript = {
  keys: ['userKey', 'pointerKey'],
  argv: ['digest', 'now', 'restore'],
  lua: `
-- KEYS[1] the user's hash; KEYS[2] the pointer to the live "this wasn't me" token
-- ARGV[1] the token's digest; ARGV[2] now (ISO time); ARGV[3] the address to restore, or ''
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'email', ARGV[3]) end
redis.call('HDEL', KEYS[1], 'pendingEmail', 'previousEmail')
redis.call('HINCRBY', KEYS[1], 'credVersion', 1)
redis.call('DEL', KEYS[2])
return 1
`
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseConfirmEmail: (userKey: string, pointerKey: string, digest: string, newEmail: string, now: string) => Promise<number>
    gatehouseCancelEmail: (userKey: string, pointerKey: string, digest: string, now: string, restore: string) => Promise<number>
  }
}

/** The fields of the user's record an email change keeps beside the address. */
export class EmailChangeStore {
  readonly #redis: RedisClient

  constructor (redis: RedisClient) {
    this.#redis = redis
    defineScripts(redis, { gatehouseConfirmEmail: CONFIRM_EMAIL_LUA, gatehouseCancelEmail: CANCEL_EMAIL_LUA })
  }

  /** `pendingEmail`: the address waiting for its confirmation; `previousEmail`: the one a confirmed change replaced. */
  async state (userKey: string): Promise<{ pendingEmail: string | null, previousEmail: string | null }> {
    const [pendingEmail, previousEmail] = await this.#redis.hmget(userKey, 'pendingEmail', 'previousEmail')
    return { pendingEmail: pendingEmail === '' ? null : pendingEmail, previousEmail: previousEmail === '' ? null : previousEmail }
  }

  async confirm (userKey: string, pointer: { key: string, digest: string }, newEmail: string): Promise<boolean> {
    return await this.#redis.gatehouseConfirmEmail(userKey, pointer.key, pointer.digest, newEmail, new Date().toISOString()) === 1
  }

  async cancel (userKey: string, pointer: { key: string, digest: string }, restore: string | null): Promise<boolean> {
    return await this.#redis.gatehouseCancelEmail(userKey, pointer.key, pointer.digest, new Date().toISOString(), restore ?? '') === 1
  }
}

export interface EmailChangeDeps extends AccountDeps {
  emailChanges: EmailChangeStore
  sessions: EndAllDeps
  /** runs the password check of a signed-in user under the account's back-off */
  guardPassword?: (userId: string, check: () => Promise<void>) => Promise<void>
  /** ends the sign-in codes and links mailed to the old address */
  endEmailSignIn?: (userId: string) => Promise<void>
}

/**
 * Starts a change of address: the new address gets a link, the current one a notice with a
 * "this wasn't me" link. Nothing changes until the link is followed. A taken address gets
 * a notice instead and the answer is the same (it must not tell who is registered). Refused
 * while a confirmed change can still be undone: a second change would replace the link the
 * previous owner of the account holds.
 */
export async function requestEmailChange (deps: EmailChangeDeps, user: User, input: { newEmail: string, password: string }): Promise<'requested' | 'taken'> {
  const newEmail = parseEmail(input.newEmail, 'newEmail')
  const check = async (): Promise<void> => {
    if (!await deps.hasher.verify(user.passwordHash, input.password)) throw new AuthError('INVALID_CREDENTIALS', 'The password is incorrect.')
  }
  await (deps.guardPassword === undefined ? check() : deps.guardPassword(user.id, check))
  if (newEmail === user.email) throw validationError('newEmail', 'is the current address')
  const { previousEmail } = await deps.emailChanges.state(deps.users.userKey(user.id))
  const undoable = previousEmail === null ? 0 : await deps.emailTokens.remaining('email-cancel', user.id)
  if (undoable > 0) {
    throw new AuthError('RATE_LIMITED', 'The address was changed recently; it can be changed again once that change can no longer be undone.', { retryAfter: Math.ceil(undoable / 1000) })
  }
  const holder = await deps.users.findByEmail(newEmail)
  if (holder !== null) {
    await deps.mailer.dispatch(addressInUseMessage(newEmail, deps.appOrigin))
    return 'taken'
  }
  await deps.users.setFields(user.id, { pendingEmail: newEmail, previousEmail: '' })
  const hours = Math.round(deps.verifyTokenTtlMs / 3_600_000)
  const token = await deps.emailTokens.issue('email-change', user.id, deps.verifyTokenTtlMs)
  const cancel = await deps.emailTokens.issue('email-cancel', user.id, deps.verifyTokenTtlMs)
  await deps.mailer.dispatch(confirmEmailChangeMessage(newEmail, deps.appOrigin, token, hours))
  await deps.mailer.dispatch(emailChangeNoticeMessage(user.email, deps.appOrigin, cancel, newEmail, 'requested', hours))
  deps.log.info({ userId: user.id }, 'email change requested')
  return 'requested'
}

/**
 * Moves the account to the address the link was mailed to. The address is claimed first
 * (the claim is what keeps addresses unique); the record is written and the link spent by
 * one script; the old address stays reserved for the account while the "this wasn't me"
 * link works, so undoing is always possible, then it is free.
 */
export async function confirmEmailChange (deps: EmailChangeDeps, token: string): Promise<{ user: User, previousEmail: string }> {
  const userId = await deps.emailTokens.peek('email-change', token)
  const user = userId === null ? null : await deps.users.findById(userId)
  if (user === null || user.disabled) throw new AuthError('INVALID_TOKEN')
  const { pendingEmail } = await deps.emailChanges.state(deps.users.userKey(user.id))
  if (pendingEmail === null) throw new AuthError('INVALID_TOKEN')
  if (!await deps.users.claimEmail(pendingEmail, user.id)) throw new AuthError('EMAIL_TAKEN', 'The address was registered by another account meanwhile.')
  if (!await deps.emailChanges.confirm(deps.users.userKey(user.id), deps.emailTokens.pointer('email-change', user.id, token), pendingEmail)) {
    // A failed script means another use of the link (or a cancel) got there first; the
    // claim is released unless that other use moved the account to the address.
    if ((await deps.users.findById(user.id))?.email !== pendingEmail) await deps.users.releaseEmail(pendingEmail, user.id)
    throw new AuthError('INVALID_TOKEN')
  }
  await deps.emailTokens.consume('email-change', token)
  await deps.users.releaseEmail(user.email, user.id, deps.verifyTokenTtlMs)
  const changed = { ...user, email: pendingEmail }
  await deps.users.index.replace(user, changed)
  // Reset links and sign-in codes went to the old address: they no longer belong to the
  // account's owner.
  await deps.emailTokens.revoke('reset', user.id)
  await deps.endEmailSignIn?.(user.id)
  const hours = Math.round(deps.verifyTokenTtlMs / 3_600_000)
  const cancel = await deps.emailTokens.issue('email-cancel', user.id, deps.verifyTokenTtlMs)
  await deps.mailer.dispatch(emailChangeNoticeMessage(user.email, deps.appOrigin, cancel, pendingEmail, 'changed', hours))
  deps.log.info({ userId: user.id }, 'email changed')
  return { user: changed, previousEmail: user.email }
}

/**
 * "This wasn't me": drops a pending change, or puts back the address a confirmed change
 * replaced (still reserved for the account), and ends every session and token family.
 */
export async function cancelEmailChange (deps: EmailChangeDeps, token: string): Promise<{ user: User, restored: boolean }> {
  const userId = await deps.emailTokens.peek('email-cancel', token)
  const user = userId === null ? null : await deps.users.findById(userId)
  if (user === null) throw new AuthError('INVALID_TOKEN')
  const { previousEmail } = await deps.emailChanges.state(deps.users.userKey(user.id))
  // The old address is taken back before the record names it (a claim first, as always).
  const restore = previousEmail !== null && await deps.users.claimEmail(previousEmail, user.id) ? previousEmail : null
  if (!await deps.emailChanges.cancel(deps.users.userKey(user.id), deps.emailTokens.pointer('email-cancel', user.id, token), restore)) {
    throw new AuthError('INVALID_TOKEN')
  }
  await deps.emailTokens.consume('email-cancel', token)
  await deps.emailTokens.revoke('email-change', user.id)
  await deps.emailTokens.revoke('reset', user.id)
  if (restore !== null) {
    await deps.users.releaseEmail(user.email, user.id)
    await deps.users.index.replace(user, { ...user, email: normalizeEmail(restore) })
  }
  const sessionsEnded = await endAllSessions(deps.sessions, user.id)
  deps.log.info({ userId: user.id, restored: restore !== null, sessionsEnded }, 'email change undone')
  return { user: { ...user, email: restore ?? user.email }, restored: restore !== null }
}
