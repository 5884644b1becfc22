import { defineScripts, type RedisClient } from '../redis/client.js'
import { digest } from '../crypto/secrets.js'
import { ExpiryCount } from './expiry-count.js'

/** The facts a session keeps: ids and small values, never the user object or a hash. */
export interface SessionData {
  userId: string
  createdAt: number
  absoluteExpiresAt: number
  lastSeenAt: number
  ip: string
  /** the client's User-Agent; '' as read back from Redis, which keeps only `userAgentRef` */
  userAgent: string
  /** the key of the User-Agent text in the store's shared dictionary (see write) */
  userAgentRef?: string
}

export interface StoreOptions {
  prefix: string
  /** sliding idle lifetime, ms */
  ttl: number
  /** absolute lifetime, ms */
  absoluteTtl: number
  /**
   * The expiry is pushed forward only when it lags its target by more than this, so an
   * active session costs one small write a minute, not one per request.
   */
  slideStep?: number
  now?: () => number
  /**
   * When set (single Redis only, never a Cluster), a read also fetches the hash at
   * `before + userId + after` in the same script; `prefetched(sessionId)` hands it out.
   */
  userKey?: { before: string, after: string }
}

type Callback<T = void> = (err?: Error | null, value?: T) => void

/** `r` is the User-Agent's reference; `ua` (the text itself) only in records of an earlier version. */
export interface Stored { u: string, c: number, a: number, l: number, ip: string, r?: string, ua?: string }

/*
 * A session is stored as one compact string, `userId|createdAt|absoluteExpiresAt|lastSeenAt|ip|userAgentRef`
 * with the three times in base 36 (ms since the epoch, 8 characters each). It costs about a
 * third less Redis memory than the JSON object it replaced; values written as JSON by an
 * earlier version (they start with `{`) are still read, and slid, as JSON.
 *
 * One round trip per read: GET, the absolute-lifetime check and the sliding refresh run in
 * one script. The refresh is a SET with a new PX, at most once per slide step, and it also
 * records lastSeenAt, so "last seen" costs nothing extra.
 */
const READ_AND_SLIDE_BODY = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local step = tonumber(ARGV[3])
local json = string.sub(v, 1, 1) == '{'
local s, u, abs, last, head, tail
if json then
  s = cjson.decode(v)
  u = s.u
  abs = tonumber(s.a)
  last = tonumber(s.l)
else
  local p1 = string.find(v, '|', 1, true)
  local p2 = string.find(v, '|', p1 + 1, true)
  local p3 = string.find(v, '|', p2 + 1, true)
  local p4 = string.find(v, '|', p3 + 1, true)
  u = string.sub(v, 1, p1 - 1)
  abs = tonumber(string.sub(v, p2 + 1, p3 - 1), 36)
  last = tonumber(string.sub(v, p3 + 1, p4 - 1), 36)
  head = string.sub(v, 1, p3)
  tail = string.sub(v, p4)
end
if abs <= now then
  redis.call('DEL', KEYS[1])
  return false
end
local target = math.min(now + ttl, abs)
local pttl = redis.call('PTTL', KEYS[1])
local slide = pttl >= 0 and now + pttl < target - step
-- Once the absolute lifetime caps the target there is nothing left to slide, but "last
-- seen" must still move: it is rewritten on its own, keeping the TTL, at most once a step.
if slide or now - last >= step then
  if json then
    s.l = now
    v = cjson.encode(s)
  else
    local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
    local n = math.floor(now)
    local b = ''
    repeat
      local r = n % 36
      b = string.sub(digits, r + 1, r + 1) .. b
      n = math.floor(n / 36)
    until n == 0
    v = head .. b .. tail
  end
  if slide then
    redis.call('SET', KEYS[1], v, 'PX', target - now)
  else
    redis.call('SET', KEYS[1], v, 'KEEPTTL')
  end
end
-- the expiry a slide moved the session from (for the live count), -1 without a slide
local from = -1
if slide then from = now + pttl end
`
const READ_AND_SLIDE = `${READ_AND_SLIDE_BODY}
return {v, from}
`
/*
 * The same, and the user's hash in the same round trip: GET /me then costs one Redis
 * command. The user key is built in the script (ARGV[4] .. userId .. ARGV[5]), which a
 * Redis Cluster does not allow (the key is not declared and may live on another node), so
 * this variant is used with a single Redis only.
 */
const READ_AND_SLIDE_WITH_USER = `${READ_AND_SLIDE_BODY}
return {v, from, redis.call('HGETALL', ARGV[4] .. u .. ARGV[5])}
`

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseSessionRead: (key: string, now: number, ttl: number, step: number) => Promise<[string, number] | null>
    gatehouseSessionReadWithUser: (key: string, now: number, ttl: number, step: number, userKeyBefore: string, userKeyAfter: string) => Promise<[string, number, string[]] | null>
  }
}

/**
 * The session store of @fastify/session, on Redis. The key is prefix + SHA-256 of the
 * session id: Redis never holds an id that could be put in a cookie. Each user has a
 * sorted set of its session digests (scored by absolute expiry) sharing the user's hash
 * tag, so listing and ending a user's sessions costs O(sessions of that user).
 */
export class RedisSessionStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttl: number
  readonly absoluteTtl: number
  readonly #step: number
  readonly #now: () => number
  readonly #userKey: { before: string, after: string } | undefined
  /** user hashes read along with a session, by session id; cleared on the next turn */
  readonly #prefetched = new Map<string, string[]>()
  #clearScheduled = false
  readonly #live: ExpiryCount

  constructor (redis: RedisClient, options: StoreOptions) {
    this.#redis = redis
    this.#prefix = options.prefix
    this.ttl = options.ttl
    this.absoluteTtl = options.absoluteTtl
    this.#step = options.slideStep ?? 60_000
    this.#now = options.now ?? Date.now
    this.#userKey = options.userKey
    this.#live = new ExpiryCount(redis, `${this.#prefix}sessions:expiring`)
    defineScripts(redis, {
      gatehouseSessionRead: { numberOfKeys: 1, lua: READ_AND_SLIDE },
      gatehouseSessionReadWithUser: { numberOfKeys: 1, lua: READ_AND_SLIDE_WITH_USER }
    })
  }

  /**
   * The user hash (flat field/value list, empty if the user is gone) read together with
   * session `sessionId` by a `get` in this turn of the event loop, if any. Concurrent
   * requests of one session share it (their reads answer in the same turn); it is dropped
   * on the next turn, so it is never older than the request that reads it.
   */
  prefetched (sessionId: string): string[] | undefined {
    return this.#prefetched.get(sessionId)
  }

  /** What Redis knows session `sessionId` by (see sessionDigest). */
  digestOf (sessionId: string): string { return sessionDigest(sessionId) }

  keyOf (sessionId: string): string { return this.keyOfDigest(this.digestOf(sessionId)) }
  userAgentKey (ref: string): string { return `${this.#prefix}ua:${ref}` }
  keyOfDigest (d: string): string { return `${this.#prefix}sess:${d}` }
  indexKey (userId: string): string { return `${this.#prefix}user:{${userId}}:sessions` }
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
    this.destroyDigest(this.digestOf(sessionId)).then(() => cb(), cb)
  }

  async read (sessionId: string): Promise<SessionData | null> {
    const now = this.#now()
    const uk = this.#userKey
    let v: string | null
    let slidFrom = -1
    if (uk === undefined) {
      const r = await this.#redis.gatehouseSessionRead(this.keyOf(sessionId), now, this.ttl, this.#step)
      v = r === null ? null : r[0]
      if (r !== null) slidFrom = r[1]
    } else {
      const r = await this.#redis.gatehouseSessionReadWithUser(this.keyOf(sessionId), now, this.ttl, this.#step, uk.before, uk.after)
      v = r === null ? null : r[0]
      if (r !== null) {
        slidFrom = r[1]
        this.#prefetched.set(sessionId, r[2])
        if (!this.#clearScheduled) {
          this.#clearScheduled = true
          setImmediate(() => {
            this.#clearScheduled = false
            this.#prefetched.clear()
          })
        }
      }
    }
    if (v === null) return null
    const s = decode(v)
    // The session slid (at most once a slide step): its one moves to its new expiry minute.
    if (slidFrom >= 0) await this.#live.move(slidFrom, Math.min(now + this.ttl, s.absoluteExpiresAt))
    return s
  }

  /** Number of sessions not yet expired (to within the current minute). */
  async countActive (): Promise<number> {
    return await this.#live.live(this.#now())
  }

  /** Expiry the client can be told about: the sliding target, bounded by the absolute lifetime. */
  expiresAt (s: Pick<SessionData, 'absoluteExpiresAt'>, now = this.#now()): Date {
    return new Date(Math.min(now + this.ttl, s.absoluteExpiresAt))
  }

  async write (sessionId: string, session: Record<string, unknown>): Promise<void> {
    // @fastify/session stores a fresh, empty session on regenerate(); only signed-in
    // sessions are worth keeping, so an anonymous visitor never costs a Redis key.
    if (typeof session.userId !== 'string') return
    const now = this.#now()
    const s: Stored = {
      u: session.userId,
      c: num(session.createdAt, now),
      a: num(session.absoluteExpiresAt, now + this.absoluteTtl),
      l: num(session.lastSeenAt, now),
      ip: typeof session.ip === 'string' ? session.ip : ''
    }
    const userAgent = typeof session.userAgent === 'string' ? session.userAgent.slice(0, 256) : ''
    s.r = userAgent !== '' ? userAgentRef(userAgent) : typeof session.userAgentRef === 'string' ? session.userAgentRef : ''
    const px = Math.min(this.ttl, s.a - now)
    const d = this.digestOf(sessionId)
    if (px <= 0) {
      await this.destroyDigest(d)
      return
    }
    // Sent together (auto-pipelining): one round trip, and with `appendfsync always` one
    // fsync for the writes instead of one each. An index entry whose SET failed is pruned
    // like any dead one.
    const key = this.keyOfDigest(d)
    /*
     * The User-Agent text is kept once for all the sessions that share it (a few browser
     * versions cover most sessions), under a reference made from its digest: 12 bytes in
     * the session instead of about 110. NX: a text already there is never replaced (a
     * colliding text cannot relabel other sessions); it lives as long as the longest
     * session written with it.
     */
    const uaKey = this.userAgentKey(s.r)
    const dictionary = userAgent === '' ? [] : [this.#redis.set(uaKey, userAgent, 'PXAT', Math.ceil(s.a), 'NX'), this.#redis.pexpireat(uaKey, Math.ceil(s.a), 'GT')]
    const [before, , added] = await Promise.all([
      this.#redis.pttl(key),
      this.#redis.set(key, encode(s), 'PX', px),
      this.#redis.zadd(this.indexKey(s.u), s.a, d)
    ])
    await Promise.all(dictionary)
    // A session saved again (not new) already counts: its one moves to the new expiry.
    if (before > 0) await this.#live.move(now + before, now + px)
    else await this.#live.add(now + px)
    // A new entry is the moment the index can grow: drop the entries of sessions that have
    // ended since (idle expiry happens in Redis and leaves the entry behind), so the index
    // never holds more than the user's live sessions plus this one.
    if (added === 1) await this.pruneIndex(s.u)
  }

  /**
   * Removes index entries whose session is gone: by score (absolute expiry passed) and by
   * asking for each remaining session key (idle expiry). One key per command, because the
   * session keys live in other cluster slots than the index. Cost O(entries of that user).
   * The index key itself expires with the last absolute expiry it holds.
   */
  async pruneIndex (userId: string): Promise<number> {
    const index = this.indexKey(userId)
    await this.#redis.zremrangebyscore(index, '-inf', this.#now())
    const digests = await this.#redis.zrange(index, 0, -1)
    const alive = await Promise.all(digests.map(async d => await this.#redis.exists(this.keyOfDigest(d))))
    const dead = digests.filter((_, i) => alive[i] === 0)
    if (dead.length > 0) await this.#redis.zrem(index, ...dead)
    const last = await this.#redis.zrange(index, -1, -1, 'WITHSCORES')
    if (last.length === 2) await this.#redis.pexpireat(index, Math.ceil(Number(last[1])))
    return digests.length - dead.length
  }

  async destroyDigest (d: string): Promise<void> {
    const now = this.#now()
    const [pttl, v] = await Promise.all([this.#redis.pttl(this.keyOfDigest(d)), this.#redis.getdel(this.keyOfDigest(d))])
    if (v === null) return
    await Promise.all([this.#redis.zrem(this.indexKey(decode(v).userId), d), this.#live.remove(pttl > 0 ? [now + pttl] : [])])
  }

  /** Deletes session keys by digest; the expiries of those that were still there. */
  async #deleteKeys (digests: string[]): Promise<number[]> {
    const now = this.#now()
    // One key per command: session keys live in other cluster slots than the index.
    const rows = await Promise.all(digests.map(async d => await Promise.all([this.#redis.pttl(this.keyOfDigest(d)), this.#redis.del(this.keyOfDigest(d))])))
    const ended = rows.filter(([pttl, n]) => n === 1 && pttl > 0).map(([pttl]) => now + pttl)
    await this.#live.remove(ended)
    return rows.filter(([, n]) => n === 1).map(([pttl]) => now + pttl)
  }

  /** Live sessions of a user; prunes index entries whose session has expired. */
  async listForUser (userId: string): Promise<Array<SessionData & { digest: string, handle: string, expiresAt: Date }>> {
    const index = this.indexKey(userId)
    const now = this.#now()
    await this.#redis.zremrangebyscore(index, '-inf', now)
    const digests = await this.#redis.zrange(index, 0, -1)
    const rows = await Promise.all(digests.map(async d => {
      const key = this.keyOfDigest(d)
      const [v, pttl] = await Promise.all([this.#redis.get(key), this.#redis.pttl(key)])
      return { d, v, pttl }
    }))
    const dead = rows.filter(r => r.v === null).map(r => r.d)
    if (dead.length > 0) await this.#redis.zrem(index, ...dead)
    const sessions = rows.filter(r => r.v !== null).map(r => ({ ...decode(r.v as string), digest: r.d, handle: RedisSessionStore.handleOf(r.d), expiresAt: new Date(now + Math.max(r.pttl, 0)) }))
    // One key per command: the texts live in other cluster slots than each other.
    const refs = [...new Set(sessions.map(s => s.userAgentRef).filter((r): r is string => r !== undefined && r !== ''))]
    const texts = new Map(await Promise.all(refs.map(async r => [r, await this.#redis.get(this.userAgentKey(r)) ?? ''] as const)))
    for (const s of sessions) if (s.userAgentRef !== undefined) s.userAgent = texts.get(s.userAgentRef) ?? ''
    return sessions
  }

  /** Ends every session of a user except, optionally, the one with digest `keep`. */
  async destroyAllForUser (userId: string, keep?: string): Promise<number> {
    const index = this.indexKey(userId)
    const digests = (await this.#redis.zrange(index, 0, -1)).filter(d => d !== keep)
    if (digests.length === 0) return 0
    const ended = await this.#deleteKeys(digests)
    await this.#redis.zrem(index, ...digests)
    // Entries whose session had already expired are dropped but not counted as ended.
    return ended.length
  }

  /** Ends the session of `userId` whose public handle is `handle`; false if it has none. */
  async destroyByHandle (userId: string, handle: string): Promise<boolean> {
    const digests = await this.#redis.zrange(this.indexKey(userId), 0, -1)
    const d = digests.find(x => RedisSessionStore.handleOf(x) === handle)
    if (d === undefined) return false
    const ended = await this.#deleteKeys([d])
    await this.#redis.zrem(this.indexKey(userId), d)
    return ended.length === 1
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

/** The reference of a User-Agent text: 72 bits of its SHA-256, as 12 base64url characters. */
export function userAgentRef (userAgent: string): string {
  return digest(`ua:${userAgent}`).slice(0, 12)
}

/** The compact form; JSON (still readable) when an id or address would break the format. */
export function encode (s: Stored): string {
  if (s.u.includes('|') || s.ip.includes('|')) return JSON.stringify(s)
  const t = (n: number): string => Math.floor(n).toString(36)
  return `${s.u}|${t(s.c)}|${t(s.a)}|${t(s.l)}|${s.ip}|${s.r ?? ''}`
}

export function decode (v: string): SessionData {
  if (v.startsWith('{')) {
    const s = JSON.parse(v) as Stored
    const base = { userId: s.u, createdAt: s.c, absoluteExpiresAt: s.a, lastSeenAt: s.l, ip: s.ip }
    return s.r !== undefined ? { ...base, userAgent: '', userAgentRef: s.r } : { ...base, userAgent: s.ua ?? '' }
  }
  const p1 = v.indexOf('|')
  const p2 = v.indexOf('|', p1 + 1)
  const p3 = v.indexOf('|', p2 + 1)
  const p4 = v.indexOf('|', p3 + 1)
  const p5 = v.indexOf('|', p4 + 1)
  if (p5 < 0) throw new Error('malformed session record')
  return {
    userId: v.slice(0, p1),
    createdAt: parseInt(v.slice(p1 + 1, p2), 36),
    absoluteExpiresAt: parseInt(v.slice(p2 + 1, p3), 36),
    lastSeenAt: parseInt(v.slice(p3 + 1, p4), 36),
    ip: v.slice(p4 + 1, p5),
    userAgent: '',
    userAgentRef: v.slice(p5 + 1)
  }
}
