import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'
import { keySlot, uuidInSlot } from '../redis/key-slot.js'
import { validationError } from '../http/errors.js'
import { CREATE_USER_LUA, CONTEST_PENDING_LUA, DEL_IF_EQUAL_LUA, SETTLE_USER_LUA, UPDATE_WITH_TOKEN_LUA, SET_IF_EXISTS_LUA, EXPIRE_IF_EQUAL_LUA } from './user-scripts.js'
import { UserSearchIndex } from './user-index.js'

export type Role = 'user' | 'admin'

export interface User {
  id: string
  email: string
  username: string | null
  firstName: string | null
  lastName: string | null
  role: Role
  organizationId: string | null
  emailVerified: boolean
  mfaEnabled: boolean
  disabled: boolean
  passwordHash: string
  /**
   * Grows with every change of a credential (password reset or change, 2FA on or off, new
   * backup codes). Sessions, token families and MFA challenges record the version they were
   * begun under, and die when it is no longer the user's: a login checked against the old
   * password that finishes just after a reset is worth nothing.
   */
  credVersion: number
  createdAt: string
  updatedAt: string
}

/** What the API shows of a user: never the hash, the disabled flag or the credential version. */
export type PublicUser = Omit<User, 'passwordHash' | 'disabled' | 'credVersion'>

export function publicUser (u: User): PublicUser {
  return {
    id: u.id,
    email: u.email,
    username: u.username,
    firstName: u.firstName,
    lastName: u.lastName,
    role: u.role,
    organizationId: u.organizationId,
    emailVerified: u.emailVerified,
    mfaEnabled: u.mfaEnabled,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt
  }
}

const USERNAME_RE = /^[\p{L}\p{N}._-]{3,32}$/u

// RFC 5321 (with RFC 6531's UTF-8): a dot-atom local part and a domain of dot-separated
// labels. Quoted local parts ("a,b"@x) and address literals (a@[127.0.0.1]) are refused, so
// the stored address is one mailbox that every mail library reads the same way: a comma, an
// angle bracket or a colon would let `v,att@evil.example` mail someone else. Each pattern is
// a single character class under one quantifier, so matching is linear in the input.
const ATEXT_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\p{L}\p{M}\p{N}-]+$/u
const LABEL_RE = /^[a-z0-9\p{L}\p{M}\p{N}-]+$/u

/**
 * Characters a reader cannot see or that change how text around them is shown: control and
 * format characters (NUL, zero-width, bidi overrides), line separators, unassigned and
 * private-use code points, and the marks and fillers that render as nothing (combining
 * grapheme joiner, variation selectors, Hangul fillers, the blank Braille pattern).
 */
// eslint-disable-next-line no-misleading-character-class -- each mark is meant to match alone, not as part of a sequence
const INVISIBLE_RE = /[\p{C}\p{Zl}\p{Zp}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]/u

export function hasInvisible (s: string): boolean {
  return INVISIBLE_RE.test(s)
}

/** True for an RFC 5321 mailbox as Gatehouse stores it (already normalised). */
export function isMailbox (e: string): boolean {
  if (e.length > 254 || hasInvisible(e)) return false
  const at = e.indexOf('@')
  if (at < 1 || at !== e.lastIndexOf('@')) return false
  const local = e.slice(0, at)
  const domain = e.slice(at + 1)
  if (local.length > 64 || !local.split('.').every(atom => atom !== '' && ATEXT_RE.test(atom))) return false
  const labels = domain.split('.')
  if (labels.length < 2) return false
  for (const label of labels) {
    if (label === '' || label.length > 63 || label.startsWith('-') || label.endsWith('-') || !LABEL_RE.test(label)) return false
  }
  // The top-level domain is never all digits (that would be an IP address).
  return /\P{N}/u.test(labels[labels.length - 1]) && labels[labels.length - 1].length >= 2
}

/** Trimmed, NFKC, lower-cased: the one form under which an address is indexed. */
export function normalizeEmail (email: string): string {
  return email.trim().normalize('NFKC').toLowerCase()
}

export function normalizeUsername (username: string): string {
  return username.trim().normalize('NFKC').toLowerCase()
}

export function parseEmail (email: string, field = 'email'): string {
  const e = normalizeEmail(email)
  if (!isMailbox(e)) throw validationError(field, 'must be a valid email address')
  return e
}

export function parseUsername (username: string, field = 'username'): string {
  const u = username.trim().normalize('NFKC')
  if (!USERNAME_RE.test(u)) throw validationError(field, 'must be 3 to 32 letters, digits, dots, dashes or underscores')
  return u
}

/** A first or last name: trimmed, NFKC; empty is null; nothing invisible. */
export function parseName (name: string | undefined, field: string): string | null {
  if (name === undefined) return null
  const n = name.trim().normalize('NFKC')
  if (hasInvisible(n)) throw validationError(field, 'must not contain control or invisible characters')
  return n === '' ? null : n
}

export interface NewUser {
  email: string
  username?: string | null
  passwordHash: string
  firstName?: string | null
  lastName?: string | null
  role?: Role
  organizationId?: string | null
  emailVerified?: boolean
}

export type CreateResult = { ok: true, user: User } | { ok: false, reason: 'email_taken' | 'username_taken', existingId: string | null }

export interface CreateOptions {
  /** An unverified account (and its claims) expires after this many ms unless verified; 0: never. */
  pendingTtlMs?: number
}

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseCreateUser: (emailKey: string, userKey: string, id: string, ttlMs: number, ...fields: string[]) => Promise<[number, string]>
    gatehouseContestPending: (userKey: string) => Promise<number>
    gatehouseSettleUser: (userKey: string, emailKey: string, now: string, unusableHash: string) => Promise<string | null>
    gatehouseClaimUsername: (usernameKey: string, id: string, ttlMs: number, staleId: string) => Promise<number>
    gatehouseUpdateWithToken: (userKey: string, pointerKey: string, digest: string, now: string, ...fields: string[]) => Promise<number>
    gatehouseSetIfExists: (userKey: string, now: string, ...fields: string[]) => Promise<number>
    gatehouseExpireIfEqual: (key: string, value: string, ttlMs: number) => Promise<number>
  }
}

const CLAIM_USERNAME_LUA: LuaScript = {
  keys: ['usernameKey'],
  argv: ['id', 'ttlMs', 'staleId'],
  lua: `
-- KEYS[1] the username claim
-- ARGV[1] the new user's id  ARGV[2] expiry in ms (0: none)  ARGV[3] a holder known to be gone ('' if none)
-- Takes the claim when it is free, or when it still names ARGV[3], a user whose record no
-- longer exists (an unverified registration that expired). Returns 1 when taken.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[3] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`
}

/**
 * Users as Redis hashes. Every key of one user carries the hash tag `{<id>}` so that in a
 * Redis Cluster they live in one slot. Registration is one script: the email claim and the
 * user's hash are written together or not at all, which in a Cluster needs both keys in one
 * slot. The claim is found by the address and the user by the id, so the id is chosen to
 * make `{id}` hash to the claim's slot (uuidInSlot). A username claim is found by a third
 * name and cannot share that slot as well: it is taken first (with the same expiry as a
 * pending account), released if the address turns out to be taken, and a claim naming a
 * user that no longer exists counts as free, so no failure between the steps holds a name
 * forever. An unverified account expires with its claims; verifying removes the expiry.
 */
export class UserRepository {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
    defineScripts(redis, {
      gatehouseCreateUser: CREATE_USER_LUA,
      gatehouseContestPending: CONTEST_PENDING_LUA,
      gatehouseSettleUser: SETTLE_USER_LUA,
      gatehouseClaimUsername: CLAIM_USERNAME_LUA,
      gatehouseDelIfEqual: DEL_IF_EQUAL_LUA,
      gatehouseUpdateWithToken: UPDATE_WITH_TOKEN_LUA,
      gatehouseSetIfExists: SET_IF_EXISTS_LUA,
      gatehouseExpireIfEqual: EXPIRE_IF_EQUAL_LUA
    })
    this.index = new UserSearchIndex(redis, prefix)
  }

  /** The admin search by email and username prefix (kept in step by every change here). */
  readonly index: UserSearchIndex

  userKey (id: string): string { return `${this.#prefix}user:{${id}}` }
  emailKey (email: string): string { return `${this.#prefix}email:${email}` }
  usernameKey (username: string): string { return `${this.#prefix}username:${normalizeUsername(username)}` }

  async create (input: NewUser, options: CreateOptions = {}): Promise<CreateResult> {
    const email = normalizeEmail(input.email)
    const emailKey = this.emailKey(email)
    const id = uuidInSlot(keySlot(emailKey))
    const emailVerified = input.emailVerified ?? false
    const ttlMs = emailVerified ? 0 : (options.pendingTtlMs ?? 0)
    const username = input.username ?? null
    if (username !== null && !await this.#claimUsername(username, id, ttlMs)) {
      return { ok: false, reason: 'username_taken', existingId: null }
    }
    const now = new Date().toISOString()
    const user: User = {
      id,
      email,
      username,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
      role: input.role ?? 'user',
      organizationId: input.organizationId ?? null,
      emailVerified,
      mfaEnabled: false,
      disabled: false,
      passwordHash: input.passwordHash,
      credVersion: 0,
      createdAt: now,
      updatedAt: now
    }
    const [created, existingId] = await this.#redis.gatehouseCreateUser(emailKey, this.userKey(id), id, ttlMs, ...Object.entries(toHash(user)).flat())
    if (created !== 1) {
      if (username !== null) await this.#redis.gatehouseDelIfEqual(this.usernameKey(username), id)
      return { ok: false, reason: 'email_taken', existingId }
    }
    // After the record: the index never names a user before it exists (see UserSearchIndex).
    await this.index.add(user)
    return { ok: true, user }
  }

  async #claimUsername (username: string, id: string, ttlMs: number): Promise<boolean> {
    return await this.#claim(this.usernameKey(username), id, ttlMs)
  }

  /**
   * Takes a claim (an email or username pointer) for `id`: when it is free, or names a
   * user whose record no longer exists (an expired registration, a deletion cut short).
   */
  async #claim (key: string, id: string, ttlMs: number): Promise<boolean> {
    if (await this.#redis.gatehouseClaimUsername(key, id, ttlMs, id) === 1) return true
    const holder = await this.#redis.get(key)
    if (holder === null || await this.#redis.exists(this.userKey(holder)) === 1) {
      return holder === null && await this.#redis.gatehouseClaimUsername(key, id, ttlMs, '') === 1
    }
    return await this.#redis.gatehouseClaimUsername(key, id, ttlMs, holder) === 1
  }

  /**
   * Records another registration for an address whose account is still unverified. Returns
   * the number of registrations so far, or 0 when the account is verified or gone.
   */
  async contestPending (id: string): Promise<number> {
    return await this.#redis.gatehouseContestPending(this.userKey(id))
  }

  /**
   * Marks the account verified and removes the expiry of a pending account from its record
   * and its claims. When more than one registration named the address while it was pending,
   * none of their passwords can be trusted to be the owner's: the password is replaced by
   * `unusableHash` and the result says 'contested'. Null when the user does not exist.
   */
  async settle (id: string, unusableHash: string): Promise<'verified' | 'already' | 'contested' | null> {
    const user = await this.findById(id)
    if (user === null) return null
    if (user.username !== null) await this.#redis.persist(this.usernameKey(user.username))
    // After an email change the address's claim is in another Cluster slot than the record;
    // only a pending account (which cannot have changed its address) needs the claim made
    // permanent, so a key of the user's own slot that holds nothing stands in for it.
    const emailKey = this.emailKey(user.email)
    const claimKey = keySlot(emailKey) === keySlot(this.userKey(id)) ? emailKey : `${this.userKey(id)}:no-claim`
    const outcome = await this.#redis.gatehouseSettleUser(this.userKey(id), claimKey, new Date().toISOString(), unusableHash)
    return outcome === 'verified' || outcome === 'already' || outcome === 'contested' ? outcome : null
  }

  async findById (id: string): Promise<User | null> {
    return userFromHash(await this.#redis.hgetall(this.userKey(id)))
  }

  async findByEmail (email: string): Promise<User | null> {
    const id = await this.#redis.get(this.emailKey(normalizeEmail(email)))
    return id === null ? null : await this.findById(id)
  }

  async findByUsername (username: string): Promise<User | null> {
    const id = await this.#redis.get(this.usernameKey(username))
    return id === null ? null : await this.findById(id)
  }

  /** The id `findByLogin` would find, from the claims alone (no user record read). */
  async idByLogin (identifier: string): Promise<string | null> {
    const id = identifier.trim()
    if (id.includes('@')) {
      return await this.#redis.get(this.emailKey(normalizeEmail(id))) ?? await this.#redis.get(this.usernameKey(id))
    }
    return await this.#redis.get(this.usernameKey(id))
  }

  /**
   * The user `findByLogin(identifier)` finds, when `idByLogin(identifier)` already answered
   * `id`: one read instead of two. When that record no longer answers to the identifier
   * (an address or a username changed hands in between), the lookup by identifier decides.
   */
  async findByLoginId (identifier: string, id: string): Promise<User | null> {
    const user = await this.findById(id)
    const given = identifier.trim()
    if (user !== null && (normalizeEmail(given) === user.email || (user.username !== null && normalizeUsername(given) === normalizeUsername(user.username)))) return user
    return await this.findByLogin(given)
  }

  /** Login accepts an email in either field, and a username in either field. */
  async findByLogin (identifier: string): Promise<User | null> {
    if (identifier.includes('@')) {
      return await this.findByEmail(identifier) ?? await this.findByUsername(identifier)
    }
    return await this.findByUsername(identifier)
  }

  /**
   * Writes `fields`. A new password or a change of 2FA counts as a change of credentials
   * (credVersion grows, in the same transaction), unless `sameCredentials` says the secret
   * is the same (a hash upgraded to new Argon2 parameters).
   */
  async update (id: string, fields: Partial<Omit<User, 'id' | 'email' | 'username' | 'createdAt' | 'credVersion'>>, options: { sameCredentials?: boolean } = {}): Promise<void> {
    // HSET on a missing user would create a half user; only touch an existing hash.
    const exists = await this.#redis.exists(this.userKey(id))
    if (exists === 0) return
    const bump = options.sameCredentials !== true && (fields.passwordHash !== undefined || fields.mfaEnabled !== undefined)
    const tx = this.#redis.multi().hset(this.userKey(id), toHash({ ...fields, updatedAt: new Date().toISOString() }))
    if (bump) tx.hincrby(this.userKey(id), 'credVersion', 1)
    const results = await tx.exec()
    const failed = results?.find(([err]) => err !== null)?.[0]
    if (failed !== undefined && failed !== null) throw failed
    // A reset link proves the mailbox as a verify link does: the account stops being pending.
    if (fields.emailVerified === true) await this.settle(id, fields.passwordHash ?? '')
  }

  /** Counts a change of credentials made elsewhere (new backup codes). */
  async bumpCredentials (id: string): Promise<void> {
    if (await this.#redis.exists(this.userKey(id)) === 1) await this.#redis.hincrby(this.userKey(id), 'credVersion', 1)
  }

  /**
   * `update`, done only if `pointer` still names the emailed token presented, and spending it
   * in the same script (a new password counts as a change of credentials). False when the
   * link was used, replaced or has expired.
   */
  async updateWithToken (id: string, pointer: { key: string, digest: string }, fields: Partial<Omit<User, 'id' | 'email' | 'username' | 'createdAt' | 'updatedAt' | 'credVersion'>>): Promise<boolean> {
    const flat = Object.entries(toHash(fields)).flat()
    const written = await this.#redis.gatehouseUpdateWithToken(this.userKey(id), pointer.key, pointer.digest, new Date().toISOString(), ...flat)
    if (written !== 1) return false
    if (fields.emailVerified === true) await this.settle(id, fields.passwordHash ?? '')
    return true
  }

  async findByIds (ids: string[]): Promise<Array<User | null>> {
    return await Promise.all(ids.map(async id => await this.findById(id)))
  }

  async list (): Promise<User[]> {
    const users = await this.index.all(async ids => await this.findByIds(ids))
    return users.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /**
   * Sets (or with null removes) the username: the new name is claimed first (a claim is
   * the uniqueness), then the record written, then the old claim released and the index
   * moved. 'taken' when another account holds the name.
   */
  async setUsername (user: User, username: string | null): Promise<'ok' | 'taken'> {
    const same = username !== null && user.username !== null && normalizeUsername(username) === normalizeUsername(user.username)
    if (same && username === user.username) return 'ok'
    if (username !== null && !same) {
      const ttl = await this.#redis.pttl(this.userKey(user.id))
      if (!await this.#claim(this.usernameKey(username), user.id, ttl > 0 ? ttl : 0)) return 'taken'
    }
    if (await this.#redis.gatehouseSetIfExists(this.userKey(user.id), new Date().toISOString(), 'username', username ?? '') !== 1) {
      if (username !== null && !same) await this.#redis.gatehouseDelIfEqual(this.usernameKey(username), user.id)
      return 'ok'
    }
    if (user.username !== null && !same) await this.#redis.gatehouseDelIfEqual(this.usernameKey(user.username), user.id)
    await this.index.replace(user, { ...user, username })
    return 'ok'
  }

  /** Writes fields the User type does not carry (an email change's state) on an existing record. */
  async setFields (id: string, fields: Record<string, string>): Promise<boolean> {
    return await this.#redis.gatehouseSetIfExists(this.userKey(id), new Date().toISOString(), ...Object.entries(fields).flat()) === 1
  }

  /** Claims `email` for the user: false when another live account holds it. */
  async claimEmail (email: string, id: string): Promise<boolean> {
    return await this.#claim(this.emailKey(normalizeEmail(email)), id, 0)
  }

  /** Releases the claim of `email` if it still names `id`; with `afterMs`, only after that long. */
  async releaseEmail (email: string, id: string, afterMs = 0): Promise<void> {
    const key = this.emailKey(normalizeEmail(email))
    if (afterMs > 0) await this.#redis.gatehouseExpireIfEqual(key, id, afterMs)
    else await this.#redis.gatehouseDelIfEqual(key, id)
  }

  /**
   * Deletes the record and the account's own keys of its slot (`ownKeys`, e.g. pointers of
   * other domains), then frees the address and the name and leaves the index: in that
   * order, so a crash part way leaves only claims and index members that name a user who
   * no longer exists, which count as free and are dropped when met.
   */
  async delete (user: User, ownKeys: string[] = []): Promise<void> {
    const h = await this.#redis.hmget(this.userKey(user.id), 'previousEmail')
    // One DEL of keys of one slot: atomic, and allowed on a Cluster.
    await this.#redis.del(this.userKey(user.id), ...ownKeys)
    for (const email of [user.email, h[0]]) if (email !== null && email !== '') await this.releaseEmail(email, user.id)
    if (user.username !== null) await this.#redis.gatehouseDelIfEqual(this.usernameKey(user.username), user.id)
    await this.index.remove(user)
    const previous = h[0]
    if (previous !== null && previous !== '') await this.index.remove({ ...user, email: previous })
  }
}

/**
 * The fields of a user's hash that make a User (fromHash reads no others), in a fixed
 * order. Written as a record of every key of User, so a field added to User and left out
 * here does not compile: a read by these fields would silently miss it.
 */
const EVERY_USER_FIELD: Record<keyof User, true> = { id: true, email: true, username: true, firstName: true, lastName: true, role: true, organizationId: true, emailVerified: true, mfaEnabled: true, disabled: true, passwordHash: true, credVersion: true, createdAt: true, updatedAt: true }
export const USER_FIELDS = Object.keys(EVERY_USER_FIELD) as ReadonlyArray<keyof User>

/** The user in the answer of HMGET of USER_FIELDS, in that order; null when there is no user. */
export function userFromFields (values: ReadonlyArray<string | null>): User | null {
  const h: Record<string, string> = {}
  for (let i = 0; i < USER_FIELDS.length; i++) {
    const v = values[i]
    if (v !== null && v !== undefined) h[USER_FIELDS[i]] = v
  }
  return userFromHash(h)
}

/** A user from its Redis hash (as HGETALL returns it); null when the hash is empty. */
export function userFromHash (h: Record<string, string>): User | null {
  return h.id === undefined ? null : fromHash(h)
}

function toHash (u: Partial<User>): Record<string, string> {
  const h: Record<string, string> = {}
  for (const [k, v] of Object.entries(u)) {
    if (v === undefined) continue
    h[k] = v === null ? '' : typeof v === 'boolean' ? (v ? '1' : '0') : String(v)
  }
  return h
}

function fromHash (h: Record<string, string>): User {
  const orNull = (v: string | undefined): string | null => v === undefined || v === '' ? null : v
  return {
    id: h.id,
    email: h.email,
    username: orNull(h.username),
    firstName: orNull(h.firstName),
    lastName: orNull(h.lastName),
    role: h.role === 'admin' ? 'admin' : 'user',
    organizationId: orNull(h.organizationId),
    emailVerified: h.emailVerified === '1',
    mfaEnabled: h.mfaEnabled === '1',
    disabled: h.disabled === '1',
    passwordHash: h.passwordHash,
    credVersion: Number(h.credVersion ?? '0') || 0,
    createdAt: h.createdAt,
    updatedAt: h.updatedAt
  }
}
