import type { RedisClient } from '../redis/client.js'
import { validationError } from '../http/errors.js'

/** The parts of a user the index is kept by. */
export interface Indexed {
  id: string
  email: string
  username: string | null
}

export interface SearchPage<T> {
  users: T[]
  /** pass back as `cursor` for the next page; null once every match has been returned */
  nextCursor: string | null
}

type Field = 'e' | 'u'

/** Most members one page may look at, so a run of stale entries cannot make a request unbounded. */
const MAX_EXAMINED = 1000

/** Lower-cased NFKC, as emails and usernames are indexed; a search by prefix uses the same form. */
export function normalizeQuery (query: string): string {
  return query.trim().normalize('NFKC').toLowerCase()
}

/**
 * The admin search: one sorted set, every member at score 0, so ZRANGEBYLEX walks it in
 * byte order. A user has `e:<normalised email>\0<id>` and, with a username,
 * `u:<normalised username>\0<id>`. A prefix search is one lexicographic range; a page
 * starts just after the last member the previous page returned (the cursor), so paging is
 * stable while members are added and removed: a user present throughout is returned
 * exactly once. No KEYS and no SCAN: the whole index is one key, which on a Redis Cluster
 * lives in one slot.
 *
 * The index is kept in step with the records without sharing a slot with them (each user
 * is in their own), so it may hold, for a moment or after a crash, members a record no
 * longer backs: a member is added only after the record it names is written and removed
 * after, and a page checks each member against the record (it skips a member whose record
 * says another address or name, and removes one whose user is gone: an id is never reused,
 * so that member can never become right again).
 */
export class UserSearchIndex {
  readonly #redis: RedisClient
  readonly key: string

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.key = `${prefix}users:index`
  }

  static members (user: Indexed): string[] {
    const out = [`e:${normalizeQuery(user.email)}\0${user.id}`]
    if (user.username !== null && user.username !== '') out.push(`u:${normalizeQuery(user.username)}\0${user.id}`)
    return out
  }

  async add (user: Indexed): Promise<void> {
    await this.#redis.zadd(this.key, ...UserSearchIndex.members(user).flatMap(m => [0, m]))
  }

  async remove (user: Indexed): Promise<void> {
    await this.#redis.zrem(this.key, ...UserSearchIndex.members(user))
  }

  /** After a change of email or username: the new members first, then the old ones go. */
  async replace (before: Indexed, after: Indexed): Promise<void> {
    const next = UserSearchIndex.members(after)
    const gone = UserSearchIndex.members(before).filter(m => !next.includes(m))
    await this.add(after)
    if (gone.length > 0) await this.#redis.zrem(this.key, ...gone)
  }

  /**
   * One page of the users whose email or username starts with `query` (every user, by
   * email, when it is empty). Emails come first, then usernames; a user whose email
   * matched is not repeated among the usernames. `load` reads a user's record (null when
   * gone).
   */
  async page<T extends Indexed> (query: string, cursor: string | undefined, limit: number, load: (ids: string[]) => Promise<Array<T | null>>): Promise<SearchPage<T>> {
    const q = normalizeQuery(query)
    const fields: Field[] = q === '' ? ['e'] : ['e', 'u']
    let after = cursor === undefined ? undefined : decodeCursor(cursor)
    if (after !== undefined && !fields.some(f => after!.startsWith(`${f}:${q}`))) {
      throw validationError('cursor', 'does not belong to this query')
    }
    const users: T[] = []
    let examined = 0
    for (const field of fields.slice(after === undefined ? 0 : fields.indexOf(after[0] as Field))) {
      const prefix = `${field}:${q}`
      if (after !== undefined && !after.startsWith(prefix)) after = undefined
      for (;;) {
        const want = Math.min(limit - users.length + 1, MAX_EXAMINED - examined)
        const min = after === undefined ? `[${prefix}` : `(${after}`
        const members = await this.#redis.zrangebylex(this.key, min, Buffer.concat([Buffer.from(`(${prefix}`), Buffer.from([0xff])]), 'LIMIT', 0, want)
        const records = await load(members.map(m => m.slice(m.lastIndexOf('\0') + 1)))
        const stale: string[] = []
        for (let i = 0; i < members.length; i++) {
          if (users.length === limit) return { users, nextCursor: encodeCursor(after!) }
          const member = members[i]
          const user = records[i]
          after = member
          examined++
          if (user === null) { stale.push(member); continue }
          if (!UserSearchIndex.members(user).includes(member)) continue
          if (field === 'u' && normalizeQuery(user.email).startsWith(q)) continue
          users.push(user)
        }
        if (stale.length > 0) await this.#redis.zrem(this.key, ...stale)
        if (members.length < want && examined < MAX_EXAMINED) break
        if (examined >= MAX_EXAMINED) return { users, nextCursor: encodeCursor(after!) }
      }
    }
    return { users, nextCursor: null }
  }

  /** Every indexed user, page by page (the CLI's list). */
  async all<T extends Indexed> (load: (ids: string[]) => Promise<Array<T | null>>): Promise<T[]> {
    const out: T[] = []
    let cursor: string | undefined
    do {
      const page = await this.page('', cursor, 500, load)
      out.push(...page.users)
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
    return out
  }
}

function encodeCursor (member: string): string {
  return Buffer.from(member, 'utf8').toString('base64url')
}

function decodeCursor (cursor: string): string {
  const member = Buffer.from(cursor, 'base64url').toString('utf8')
  if (encodeCursor(member) !== cursor || !/^[eu]:[^\0]*\0[0-9a-f-]{36}$/.test(member)) throw validationError('cursor', 'is not a cursor this server gave')
  return member
}
