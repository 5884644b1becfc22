import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../redis/client.js'
import { validationError } from '../http/errors.js'

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
  createdAt: string
  updatedAt: string
}

/** What the API shows of a user: never the hash or the disabled flag. */
export type PublicUser = Omit<User, 'passwordHash' | 'disabled'>

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

// No \p{C} anywhere: control and format characters (NUL, zero-width, bidi overrides), lone
// surrogates, private-use and unassigned code points have no place in an address.
const EMAIL_RE = /^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@.\p{C}]{2,63}$/u
const USERNAME_RE = /^[\p{L}\p{N}._-]{3,32}$/u

/** Trimmed, NFKC, lower-cased: the one form under which an address is indexed. */
export function normalizeEmail (email: string): string {
  return email.trim().normalize('NFKC').toLowerCase()
}

export function normalizeUsername (username: string): string {
  return username.trim().normalize('NFKC').toLowerCase()
}

export function parseEmail (email: string, field = 'email'): string {
  const e = normalizeEmail(email)
  if (e.length > 254 || !EMAIL_RE.test(e)) throw validationError(field, 'must be a valid email address')
  return e
}

export function parseUsername (username: string, field = 'username'): string {
  const u = username.trim().normalize('NFKC')
  if (!USERNAME_RE.test(u)) throw validationError(field, 'must be 3 to 32 letters, digits, dots, dashes or underscores')
  return u
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

/**
 * Users as Redis hashes. Every key of one user carries the hash tag `{<id>}` so that in a
 * Redis Cluster they live in one slot. The email and username indexes are separate keys
 * (their slot comes from the address), claimed with SET NX: Redis runs each SET NX alone, so
 * of two concurrent registrations of one address exactly one claim succeeds.
 */
export class UserRepository {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  userKey (id: string): string { return `${this.#prefix}user:{${id}}` }
  emailKey (email: string): string { return `${this.#prefix}email:${email}` }
  usernameKey (username: string): string { return `${this.#prefix}username:${normalizeUsername(username)}` }
  get allUsersKey (): string { return `${this.#prefix}users` }

  async create (input: NewUser): Promise<CreateResult> {
    const id = randomUUID()
    const email = normalizeEmail(input.email)
    const claimedEmail = await this.#redis.set(this.emailKey(email), id, 'NX')
    if (claimedEmail === null) {
      return { ok: false, reason: 'email_taken', existingId: await this.#redis.get(this.emailKey(email)) }
    }
    const username = input.username ?? null
    if (username !== null) {
      const claimedName = await this.#redis.set(this.usernameKey(username), id, 'NX')
      if (claimedName === null) {
        await this.#redis.del(this.emailKey(email))
        return { ok: false, reason: 'username_taken', existingId: null }
      }
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
      emailVerified: input.emailVerified ?? false,
      mfaEnabled: false,
      disabled: false,
      passwordHash: input.passwordHash,
      createdAt: now,
      updatedAt: now
    }
    await this.#redis.hset(this.userKey(id), toHash(user))
    await this.#redis.sadd(this.allUsersKey, id)
    return { ok: true, user }
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

  /** Login accepts an email in either field, and a username in either field. */
  async findByLogin (identifier: string): Promise<User | null> {
    if (identifier.includes('@')) {
      return await this.findByEmail(identifier) ?? await this.findByUsername(identifier)
    }
    return await this.findByUsername(identifier)
  }

  async update (id: string, fields: Partial<Omit<User, 'id' | 'email' | 'username' | 'createdAt'>>): Promise<void> {
    // HSET on a missing user would create a half user; only touch an existing hash.
    const exists = await this.#redis.exists(this.userKey(id))
    if (exists === 0) return
    await this.#redis.hset(this.userKey(id), toHash({ ...fields, updatedAt: new Date().toISOString() }))
  }

  async list (): Promise<User[]> {
    const ids = await this.#redis.smembers(this.allUsersKey)
    const users = await Promise.all(ids.map(async id => await this.findById(id)))
    return users.filter((u): u is User => u !== null).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }
}

/** A user from its Redis hash (as HGETALL returns it, or as a flat field/value list); null when the hash is empty. */
export function userFromHash (h: Record<string, string> | string[]): User | null {
  if (Array.isArray(h)) {
    const o: Record<string, string> = {}
    for (let i = 0; i + 1 < h.length; i += 2) o[h[i]] = h[i + 1]
    h = o
  }
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
    createdAt: h.createdAt,
    updatedAt: h.updatedAt
  }
}
