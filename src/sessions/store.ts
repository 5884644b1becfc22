import type { SignInMethod } from '../events/catalogue.js'
import type { RedisClient } from '../redis/client.js'
import { defineScripts } from '../redis/scripts.js'
import { digest, randomToken } from '../crypto/secrets.js'
import { decodeSession, encodeSession, userAgentRef, type SessionData } from './record.js'
import { SESSION_SCRIPTS } from './read-and-slide.js'
import { SessionIndex } from './user-index.js'
import { ExpiryCount } from './expiry-count.js'

export type { SessionData } from './record.js'

export interface StoreOptions {
  prefix: string
  /** sliding idle lifetime */
  ttlMs: number
  /** absolute lifetime */
  absoluteTtlMs: number
  /**
   * The expiry (and "last seen") is pushed forward at most once a step, so an active
   * session costs one small write a minute, not one per request (default 60 s, at most a
   * quarter of `ttlMs`).
   */
  slideStepMs?: number
  /** the most sessions a user may have: a new one beyond it ends the oldest (default 100) */
  maxPerUser?: number
  now?: () => number
  /** the key of a user's hash, which holds the user's session index (default `prefix + 'user:{' + id + '}'`) */
  userKey?: (userId: string) => string
  /**
   * Single Redis only, never a Cluster, where scripts cannot reach keys they do not declare:
   * a read also fetches the user in the same script (`prefetched(sessionId)` hands it out),
   * and adding a session to its user's index drops the entries of ended sessions there too.
   */
  prefetchUser?: boolean
  /** told when new sessions ended older ones of their user (the per-user maximum) */
  onEvicted?: (userId: string, ended: number) => void
}

type Callback<T = void> = (err?: Error | null, value?: T) => void

export interface ListedSession extends SessionData { digest: string, handle: string, expiresAt: Date }

/**
 * The session store of @fastify/session, on Redis. The key is prefix + SHA-256 of the
 * session id (see sessionDigest): Redis never holds an id that could be put in a cookie.
 * Reads run the read-and-slide script (one round trip); the per-user index (user-index.ts, in the user's hash)
 * and the live count (expiry-count.ts) are kept in step on every write, slide and destroy.
 */
export class RedisSessionStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttlMs: number
  readonly absoluteTtlMs: number
  readonly #step: number
  readonly #now: () => number
  /** the user key around the user id, for the read script that also reads the user */
  readonly #userKey: { before: string, after: string } | undefined
  readonly #onEvicted: (userId: string, ended: number) => void
  readonly #index: SessionIndex
  readonly #live: ExpiryCount
  /** ids handed out by newId and not yet written: nothing in Redis to destroy (bounded) */
  readonly #unsaved = new Set<string>()
  /** users read along with a session (USER_FIELDS values), by session id; cleared on the next turn */
  readonly #prefetched = new Map<string, Array<string | null>>()
  #clearScheduled = false

  constructor (redis: RedisClient, options: StoreOptions) {
    this.#redis = redis
    this.#prefix = options.prefix
    this.ttlMs = options.ttlMs
    this.absoluteTtlMs = options.absoluteTtlMs
    // A step is at most a quarter of the lifetime, so that an active session's expiry never
    // lags its target by more than that (a lifetime of seconds in tests, 7 days by default).
    this.#step = Math.min(options.slideStepMs ?? 60_000, Math.floor(this.ttlMs / 4))
    this.#now = options.now ?? Date.now
    const userKey = options.userKey ?? ((id: string) => `${options.prefix}user:{${id}}`)
    const [before, after] = userKey('\u0000').split('\u0000')
    this.#userKey = options.prefetchUser === true ? { before, after } : undefined
    this.#onEvicted = options.onEvicted ?? (() => {})
    this.#index = new SessionIndex(redis, userKey, this.#now, options.maxPerUser ?? 100)
    this.#live = new ExpiryCount(redis, `${options.prefix}sessions:expiring`)
    defineScripts(redis, SESSION_SCRIPTS)
  }

  /**
   * The user (the values of USER_FIELDS, all null if the user is gone) read together with
   * session `sessionId` by a `get` in this turn of the event loop, if any. Concurrent
   * requests of one session share it (their reads answer in the same turn); it is dropped
   * on the next turn, so it is never older than the request that reads it.
   */
  prefetched (sessionId: string): Array<string | null> | undefined {
    return this.#prefetched.get(sessionId)
  }

  /**
   * A new session id (256 bits; the contract asks for 128), for @fastify/session's
   * idGenerator. Every request that comes without a session gets one, and a sign-in
   * regenerates the session, which destroys the old id first: remembering the ids never
   * written spares that Redis round trip on every sign-in.
   */
  newId (): string {
    const id = randomToken(32)
    if (this.#unsaved.size >= 4096) this.#unsaved.clear()
    this.#unsaved.add(id)
    return id
  }

  /** What Redis knows session `sessionId` by (see sessionDigest). */
  digestOf (sessionId: string): string { return sessionDigest(sessionId) }
  keyOf (sessionId: string): string { return this.keyOfDigest(sessionDigest(sessionId)) }
  keyOfDigest (d: string): string { return `${this.#prefix}sess:${d}` }
  /** The digests in the user's session index, oldest first (past their absolute expiry dropped). */
  async indexed (userId: string): Promise<string[]> { return await this.#index.digests(userId) }
  userAgentKey (ref: string): string { return `${this.#prefix}ua:${ref}` }
  /** The count of live sessions by expiry minute (see expiry-count.ts). */
  get countKey (): string { return this.#live.key }

  /** A public handle for a session: derived one way from the digest, unrelated to the cookie. */
  static handleOf (sessionDigest: string): string { return digest(`handle:${sessionDigest}`).slice(0, 22) }

  // The callback's value type is @fastify/session's Session; this module stays free of it.
  get (sessionId: string, cb: (err: Error | null, value?: any) => void): void {
    this.read(sessionId).then(s => cb(null, s), cb)
  }

  set (sessionId: string, session: object, cb: Callback): void {
    this.write(sessionId, session as Record<string, unknown>).then(() => cb(), cb)
  }

  destroy (sessionId: string, cb: Callback): void {
    if (this.#unsaved.delete(sessionId)) {
      cb()
      return
    }
    this.destroyDigest(sessionDigest(sessionId)).then(() => cb(), cb)
  }

  async read (sessionId: string): Promise<SessionData | null> {
    const now = this.#now()
    const uk = this.#userKey
    const r = uk === undefined
      ? await this.#redis.gatehouseSessionRead(this.keyOf(sessionId), now, this.ttlMs, this.#step, this.absoluteTtlMs)
      : await this.#redis.gatehouseSessionReadWithUser(this.keyOf(sessionId), now, this.ttlMs, this.#step, this.absoluteTtlMs, uk.before, uk.after)
    if (r === null) return null
    // A record of another layout (written before an upgrade) is no session: sign in again.
    const s = this.#decode(r[0])
    if (s === null) return null
    if (r.length === 3) this.#keepPrefetched(sessionId, r[2])
    // The session slid (at most once a slide step): its one moves to its new expiry minute.
    if (r[1] >= 0) await this.#live.move(r[1], Math.min(now + this.ttlMs, s.absoluteExpiresAt))
    return s
  }

  #keepPrefetched (sessionId: string, values: Array<string | null>): void {
    this.#prefetched.set(sessionId, values)
    if (this.#clearScheduled) return
    this.#clearScheduled = true
    setImmediate(() => {
      this.#clearScheduled = false
      this.#prefetched.clear()
    })
  }

  #decode (v: string): SessionData | null {
    try {
      return decodeSession(v, this.absoluteTtlMs)
    } catch {
      return null
    }
  }

  /** a single Redis (see StoreOptions.prefetchUser) */
  get #single (): boolean { return this.#userKey !== undefined }

  /** Number of sessions not yet expired (to within the current minute). */
  async countActive (): Promise<number> { return await this.#live.live(this.#now()) }

  /** Expiry the client can be told about: the sliding target, bounded by the absolute lifetime. */
  expiresAt (s: Pick<SessionData, 'absoluteExpiresAt'>, now = this.#now()): Date {
    return new Date(Math.min(now + this.ttlMs, s.absoluteExpiresAt))
  }

  async write (sessionId: string, session: Record<string, unknown>): Promise<void> {
    // @fastify/session stores a fresh, empty session on regenerate(); only signed-in
    // sessions are worth keeping, so an anonymous visitor never costs a Redis key.
    if (typeof session.userId !== 'string') return
    this.#unsaved.delete(sessionId)
    const now = this.#now()
    const createdAt = num(session.createdAt, now)
    const s: SessionData = {
      userId: session.userId,
      createdAt,
      // Not stored: always the creation time plus the absolute lifetime (record.ts).
      absoluteExpiresAt: createdAt + this.absoluteTtlMs,
      lastSeenAt: num(session.lastSeenAt, now),
      ip: typeof session.ip === 'string' ? session.ip : '',
      userAgent: typeof session.userAgent === 'string' ? session.userAgent.slice(0, 256) : '',
      cv: num(session.cv, 0),
      ...(typeof session.method === 'string' ? { method: session.method as SignInMethod } : {})
    }
    s.userAgentRef = s.userAgent !== '' ? userAgentRef(s.userAgent) : typeof session.userAgentRef === 'string' ? session.userAgentRef : ''
    const px = Math.min(this.ttlMs, s.absoluteExpiresAt - now)
    const d = sessionDigest(sessionId)
    if (px <= 0) {
      await this.destroyDigest(d)
      return
    }
    const key = this.keyOfDigest(d)
    /*
     * The User-Agent text is kept once for all the sessions that share it (a few browser
     * versions cover most sessions), under a reference made from its digest: 8 bytes in
     * the session instead of about 110. NX: a text already there is never replaced (a
     * colliding text cannot relabel other sessions); it lives as long as the longest
     * session written with it.
     */
    const uaKey = this.userAgentKey(s.userAgentRef)
    const dictionary = s.userAgent === '' ? [] : [this.#redis.set(uaKey, s.userAgent, 'PXAT', Math.ceil(s.absoluteExpiresAt), 'NX'), this.#redis.pexpireat(uaKey, Math.ceil(s.absoluteExpiresAt), 'GT')]
    /*
     * On a single Redis sent together (auto-pipelining, one connection, so in this order):
     * one round trip, and with `appendfsync always` one fsync for the writes instead of one
     * each. On a Cluster the index lives on another node than the session key, so the entry
     * waits for the SET: otherwise a concurrent sign-in of the user could prune the entry
     * of a key not yet written, and the session would live on unlisted. An index entry
     * whose SET failed is pruned like any dead one.
     */
    const record = Promise.all([this.#redis.pttl(key), this.#redis.set(key, encodeSession(s), 'PX', px)])
    if (!this.#single) await record
    const [[before], added] = await Promise.all([record, this.#index.add(s.userId, d, s.absoluteExpiresAt, this.#single ? this.keyOfDigest('') : '')])
    await Promise.all(dictionary)
    // The account is gone (deleted while this request ran): its deletion ended the sessions
    // it could see, not this one if our SET came after, and no index will ever name it. The
    // shared User-Agent text may stay; it expires on its own.
    if (added.userGone) {
      if (await this.#redis.del(key) === 1 && before > 0) await this.#live.remove([now + before])
      return
    }
    // A session saved again (not new) already counts: its one moves to the new expiry.
    if (before > 0) await this.#live.move(now + before, now + px)
    else await this.#live.add(now + px)
    // A new entry is the moment the index can grow: drop the entries of sessions that have
    // ended since, so the index never holds more than the user's live sessions plus this
    // one, and only live sessions count against the maximum. On a single Redis the add
    // script has done both; on a Cluster it cannot see the session keys, so it is done here.
    let over = added.over
    if (added.isNew && !this.#single) {
      const live = await this.#prune(s.userId)
      over = live.slice(0, Math.max(0, live.length - this.#index.max))
    }
    // Over the per-user maximum: the oldest sessions end, keys first, so an entry never
    // goes before its session does.
    if (over.length > 0) {
      const ended = await this.#deleteKeys(over)
      await this.#index.remove(s.userId, over)
      if (ended > 0) this.#onEvicted(s.userId, ended)
    }
  }

  /**
   * Removes index entries whose session is gone: by score (absolute expiry passed) and by
   * asking for each remaining session key (idle expiry). Cost O(entries of that user).
   * Answers the digests left, oldest first.
   */
  async #prune (userId: string): Promise<string[]> {
    const digests = await this.#index.digests(userId)
    // One key per command: session keys live in other cluster slots than the index.
    const alive = await Promise.all(digests.map(async d => await this.#redis.exists(this.keyOfDigest(d))))
    const dead = digests.filter((_, i) => alive[i] === 0)
    await this.#index.remove(userId, dead)
    return digests.filter((_, i) => alive[i] !== 0)
  }

  async destroyDigest (d: string): Promise<void> {
    const now = this.#now()
    const [pttl, v] = await Promise.all([this.#redis.pttl(this.keyOfDigest(d)), this.#redis.getdel(this.keyOfDigest(d))])
    if (v === null) return
    const s = this.#decode(v)
    await Promise.all([s === null ? undefined : this.#index.remove(s.userId, [d]), this.#live.remove(pttl > 0 ? [now + pttl] : [])])
  }

  /** Deletes session keys by digest; answers how many were still there. */
  async #deleteKeys (digests: string[]): Promise<number> {
    const now = this.#now()
    // One key per command: session keys live in other cluster slots than the index.
    const rows = await Promise.all(digests.map(async d => await Promise.all([this.#redis.pttl(this.keyOfDigest(d)), this.#redis.del(this.keyOfDigest(d))])))
    await this.#live.remove(rows.filter(([pttl, n]) => n === 1 && pttl > 0).map(([pttl]) => now + pttl))
    return rows.filter(([, n]) => n === 1).length
  }

  /** Live sessions of a user; prunes index entries whose session has expired. */
  async listForUser (userId: string): Promise<ListedSession[]> {
    const now = this.#now()
    const digests = await this.#index.digests(userId)
    const rows = await Promise.all(digests.map(async d => {
      const key = this.keyOfDigest(d)
      const [v, pttl] = await Promise.all([this.#redis.get(key), this.#redis.pttl(key)])
      return { d, v, pttl }
    }))
    const decoded = rows.map(r => ({ ...r, s: r.v === null ? null : this.#decode(r.v) }))
    await this.#index.remove(userId, decoded.filter(r => r.s === null).map(r => r.d))
    const sessions = decoded.flatMap(r => r.s === null ? [] : [{ ...r.s, digest: r.d, handle: RedisSessionStore.handleOf(r.d), expiresAt: new Date(now + Math.max(r.pttl, 0)) }])
    // One key per command: the texts live in other cluster slots than each other.
    const refs = [...new Set(sessions.map(s => s.userAgentRef).filter((r): r is string => r !== undefined && r !== ''))]
    const texts = new Map(await Promise.all(refs.map(async r => [r, await this.#redis.get(this.userAgentKey(r)) ?? ''] as const)))
    for (const s of sessions) if (s.userAgentRef !== undefined) s.userAgent = texts.get(s.userAgentRef) ?? ''
    return sessions
  }

  /** Ends every session of a user except, optionally, the one with digest `keep`. */
  async destroyAllForUser (userId: string, keep?: string): Promise<number> {
    const digests = (await this.#index.digests(userId)).filter(d => d !== keep)
    if (digests.length === 0) return 0
    const ended = await this.#deleteKeys(digests)
    await this.#index.remove(userId, digests)
    // Entries whose session had already expired are dropped but not counted as ended.
    return ended
  }

  /** Ends the session of `userId` whose public handle is `handle`; false if it has none. */
  async destroyByHandle (userId: string, handle: string): Promise<boolean> {
    const d = (await this.#index.digests(userId)).find(x => RedisSessionStore.handleOf(x) === handle)
    if (d === undefined) return false
    const ended = await this.#deleteKeys([d])
    await this.#index.remove(userId, [d])
    return ended === 1
  }
}

const digests = new Map<string, string>()

/**
 * What Redis knows a session by: SHA-256 of its id cut to 120 bits (20 base64url
 * characters), plenty against guessing an id from it and against two sessions sharing one,
 * and 23 bytes less in each key and index entry than the whole digest. Remembered for a
 * while: a request needs it to read its session and again for its CSRF token, a turn of
 * the event loop later.
 */
export function sessionDigest (sessionId: string): string {
  let d = digests.get(sessionId)
  if (d === undefined) {
    if (digests.size >= 4096) digests.clear()
    d = digest(sessionId).slice(0, 20)
    digests.set(sessionId, d)
  }
  return d
}

function num (v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback
}
