import type { RedisClient } from '../redis/client.js'
import { defineScripts, type LuaScript } from '../redis/scripts.js'

/*
 * The delivery queue of one webhook endpoint, in Redis: every key carries the hash tag
 * `{wh:<endpoint id>}`, so each script touches one Cluster slot.
 *
 * - `q`, a stream with a consumer group: one entry per event to deliver, holding the plain
 *   payload (receivers need the user id) until it is delivered or parked, then deleted.
 *   Server processes read new entries with XREADGROUP; an entry whose reader died stays in
 *   the group's pending list and is taken over with XAUTOCLAIM once idle for the claim time.
 * - `u:<userId>`, a list of that user's entries not yet finished, oldest first. Only its
 *   head is ever attempted, so one user's events arrive in order while other users'
 *   events go to any process in parallel. A later entry read too early is acked and marked
 *   in `wait`; finishing the head schedules the next one.
 * - `due`, a sorted set of entries to (re)attempt, by time: retries after a failure, and
 *   waiting entries whose turn came. Taking one leases it (its score moves a claim time
 *   ahead), so a process that dies mid-attempt leaves it to the next taker.
 * - `tries`, attempts so far per entry; `parked`, a capped stream of given-up deliveries
 *   (event id, type, attempts, last outcome: never the user id or the payload).
 */

/** The consumer group every server process joins. */
export const GROUP = 'deliver'

export interface QueueKeys {
  q: string
  due: string
  wait: string
  tries: string
  parked: string
  /** the prefix of the user lists' keys, which the scripts complete with a user id */
  userPrefix: string
  user: (userId: string) => string
}

export function queueKeys (prefix: string, endpointId: string): QueueKeys {
  const base = `${prefix}{wh:${endpointId}}`
  return {
    q: `${base}:q`,
    due: `${base}:due`,
    wait: `${base}:wait`,
    tries: `${base}:tries`,
    parked: `${base}:parked`,
    userPrefix: `${base}:u:`,
    user: (userId: string) => `${base}:u:${userId}`
  }
}

/** One queued delivery as read back. */
export interface QueueEntry {
  /** the stream entry id */
  id: string
  userId: string
  eventId: string
  type: string
  /** when the event happened, epoch ms: the retry window and the lag count from here */
  at: number
  /** the signed body, exactly as sent */
  body: string
}

const KEY_NAMES = ['q', 'wait', 'due', 'tries', 'userList'] as const

/*
 * Shared by the scripts. `advance` drops heads of a user's list whose entries are gone and
 * schedules the new head now if it was waiting; `finish` removes an entry everywhere, then
 * advances its user's list; `dropOldest` finishes the oldest entry of the stream (the caps),
 * so its user's next entry still gets its turn.
 */
const PRELUDE = `
-- the queue stream, the waiting set, the schedule, the attempt counts (one hash tag)
local q, wait, due, tries = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function advance (userList, now)
  while true do
    local head = redis.call('LINDEX', userList, 0)
    if not head then return end
    if #redis.call('XRANGE', q, head, head) > 0 then
      if redis.call('HDEL', wait, head) == 1 then redis.call('ZADD', due, now, head) end
      return
    end
    redis.call('LPOP', userList)
    redis.call('HDEL', wait, head)
    redis.call('HDEL', tries, head)
  end
end
local function finish (userList, group, id, now)
  redis.call('XACK', q, group, id)
  redis.call('XDEL', q, id)
  redis.call('ZREM', due, id)
  redis.call('HDEL', wait, id)
  redis.call('HDEL', tries, id)
  redis.call('LREM', userList, 1, id)
  advance(userList, now)
end
-- the user lists share the hash tag: their keys are the prefix and the user id
local function dropOldest (group, userPrefix, now)
  local oldest = redis.call('XRANGE', q, '-', '+', 'COUNT', 1)[1]
  if not oldest then return nil end
  local fields, userId = oldest[2], ''
  for i = 1, #fields, 2 do if fields[i] == 'u' then userId = fields[i + 1] end end
  finish(userPrefix .. userId, group, oldest[1], now)
  return oldest[1]
end
`

/* Adds an entry, first dropping the oldest beyond the cap; returns { id, entries dropped }. */
const ENQUEUE: LuaScript = {
  keys: [...KEY_NAMES],
  argv: ['group', 'userPrefix', 'maxLen', 'listTtlMs', 'now', 'userId', 'eventId', 'type', 'at', 'body'],
  lua: `${PRELUDE}
-- the user's list of unfinished entries
local userList = KEYS[5]
local group, userPrefix, maxLen, listTtlMs, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local dropped = 0
while redis.call('XLEN', q) >= maxLen do
  dropOldest(group, userPrefix, now)
  dropped = dropped + 1
end
local id = redis.call('XADD', q, '*', 'u', ARGV[6], 'e', ARGV[7], 't', ARGV[8], 'a', ARGV[9], 'b', ARGV[10])
redis.call('RPUSH', userList, id)
redis.call('PEXPIRE', userList, listTtlMs)
return { id, dropped }
`
}

/* Drops up to `limit` entries older than `minAt` (epoch ms); returns how many. */
const TRIM: LuaScript = {
  keys: ['q', 'wait', 'due', 'tries'],
  argv: ['group', 'userPrefix', 'minAt', 'now', 'limit'],
  lua: `${PRELUDE}
local group, userPrefix, minAt, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local dropped = 0
while dropped < limit do
  local oldest = redis.call('XRANGE', q, '-', '+', 'COUNT', 1)[1]
  if not oldest or tonumber(string.match(oldest[1], '^(%d+)')) >= minAt then break end
  dropOldest(group, userPrefix, now)
  dropped = dropped + 1
end
return dropped
`
}

/* 1: the entry is its user's oldest unfinished one, deliver it; 0: it waits (acked, marked). */
const BEGIN: LuaScript = {
  keys: [...KEY_NAMES],
  argv: ['group', 'id', 'now'],
  lua: `${PRELUDE}
-- the consumer group, the entry read, the time (epoch ms)
local group, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local userList = KEYS[5]
-- a list gone (its TTL passed) orders nothing any more
if not redis.call('LPOS', userList, id) then return 1 end
advance(userList, now)
if redis.call('LINDEX', userList, 0) == id then return 1 end
redis.call('HSET', wait, id, 1)
redis.call('XACK', q, group, id)
return 0
`
}

const DONE: LuaScript = {
  keys: [...KEY_NAMES],
  argv: ['group', 'id', 'now'],
  lua: `${PRELUDE}
finish(KEYS[5], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
`
}

/*
 * A failed attempt: the next one after base * 2^(attempts - 1), at most maxDelay later and
 * never past the deadline (the event's time + the retry window); an attempt failing at or
 * after the deadline parks the delivery. Returns { attempts, next attempt time, or -1 if
 * parked, or -2 if the entry was dropped by the cap meanwhile }.
 */
const FAIL: LuaScript = {
  keys: [...KEY_NAMES, 'parked'],
  argv: ['group', 'id', 'now', 'baseMs', 'maxDelayMs', 'deadline', 'parkedMax', 'eventId', 'type', 'outcome'],
  lua: `${PRELUDE}
-- the user's list, the stream of parked deliveries
local userList, parked = KEYS[5], KEYS[6]
local group, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local baseMs, maxDelayMs, deadline = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
-- dropped by the cap while under way: already counted, nothing to schedule
if #redis.call('XRANGE', q, id, id) == 0 then
  redis.call('HDEL', tries, id)
  return { 0, -2 }
end
local n = redis.call('HINCRBY', tries, id, 1)
if now >= deadline then
  redis.call('XADD', parked, 'MAXLEN', ARGV[7], '*', 'e', ARGV[8], 't', ARGV[9], 'n', n, 'o', ARGV[10])
  finish(userList, group, id, now)
  return { n, -1 }
end
local nextAt = math.min(now + math.min(baseMs * 2 ^ math.min(n - 1, 40), maxDelayMs), deadline)
redis.call('XACK', q, group, id)
redis.call('ZADD', due, nextAt, id)
return { n, nextAt }
`
}

/* Due entries, each leased until now + leaseMs. */
const TAKE: LuaScript = {
  keys: ['due'],
  argv: ['now', 'leaseMs', 'count'],
  lua: `
-- the schedule of entries to (re)attempt
local due = KEYS[1]
local now, leaseMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', due, now + leaseMs, id) end
return ids
`
}

/* An attempt cut short by shutdown: due again at once, for any process, no attempt counted. */
const RELEASE: LuaScript = {
  keys: ['q', 'due'],
  argv: ['group', 'id', 'now'],
  lua: `
local q, due = KEYS[1], KEYS[2]
redis.call('XACK', q, ARGV[1], ARGV[2])
-- an entry dropped by the cap meanwhile is not scheduled again
if #redis.call('XRANGE', q, ARGV[2], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', due, ARGV[3], ARGV[2])
return 1
`
}

type QueueKeyArgs = [q: string, wait: string, due: string, tries: string]
type UserKeyArgs = [...QueueKeyArgs, userList: string]

declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- must repeat ioredis' type parameter
  interface RedisCommander<Context> {
    gatehouseWebhookEnqueue: (...args: [...UserKeyArgs, group: string, userPrefix: string, maxLen: number, listTtlMs: number, now: number,
      userId: string, eventId: string, type: string, at: number, body: string]) => Promise<[string, number]>
    gatehouseWebhookTrim: (...args: [...QueueKeyArgs, group: string, userPrefix: string, minAt: number, now: number, limit: number]) => Promise<number>
    gatehouseWebhookBegin: (...args: [...UserKeyArgs, group: string, id: string, now: number]) => Promise<number>
    gatehouseWebhookDone: (...args: [...UserKeyArgs, group: string, id: string, now: number]) => Promise<number>
    gatehouseWebhookFail: (...args: [...UserKeyArgs, parked: string, group: string, id: string, now: number,
      baseMs: number, maxDelayMs: number, deadline: number, parkedMax: number, eventId: string, type: string, outcome: string]) => Promise<[number, number]>
    gatehouseWebhookTake: (due: string, now: number, leaseMs: number, count: number) => Promise<string[]>
    gatehouseWebhookRelease: (q: string, due: string, group: string, id: string, now: number) => Promise<number>
  }
}

type Fields = string[]

function entryOf (id: string, fields: Fields): QueueEntry {
  const f: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1]
  return { id, userId: f.u, eventId: f.e, type: f.t, at: Number(f.a), body: f.b }
}

/** The retry schedule: how far apart attempts are, how long they go on. */
export interface RetryPolicy {
  baseMs: number
  maxDelayMs: number
  windowMs: number
}

export interface QueueCaps {
  maxLen: number
  parkedMax: number
  retentionMs: number
}

/** One endpoint's queue, as the functions the worker and the event sink call. */
export class DeliveryQueue {
  readonly keys: QueueKeys
  readonly #redis: RedisClient
  readonly #caps: QueueCaps

  /** `retentionMs`: how long an entry may stay at most; a user's list outlives its entries by as much. */
  constructor (redis: RedisClient, prefix: string, endpointId: string, caps: QueueCaps) {
    this.#redis = redis
    this.keys = queueKeys(prefix, endpointId)
    this.#caps = caps
    defineScripts(redis, {
      gatehouseWebhookEnqueue: ENQUEUE,
      gatehouseWebhookTrim: TRIM,
      gatehouseWebhookBegin: BEGIN,
      gatehouseWebhookDone: DONE,
      gatehouseWebhookFail: FAIL,
      gatehouseWebhookTake: TAKE,
      gatehouseWebhookRelease: RELEASE
    })
  }

  #userKeys (userId: string): UserKeyArgs {
    const k = this.keys
    return [k.q, k.wait, k.due, k.tries, k.user(userId)]
  }

  /** Creates the stream and the group if missing (every process, every start: idempotent). */
  async ensureGroup (): Promise<void> {
    try {
      await this.#redis.xgroup('CREATE', this.keys.q, GROUP, '0', 'MKSTREAM')
    } catch (err) {
      if (!(err as Error).message.startsWith('BUSYGROUP')) throw err
    }
  }

  /** Queues a delivery; `dropped` counts the oldest entries given up to keep the cap. */
  async enqueue (e: Omit<QueueEntry, 'id'>, now: number): Promise<{ id: string, dropped: number }> {
    const [id, dropped] = await this.#redis.gatehouseWebhookEnqueue(...this.#userKeys(e.userId), GROUP, this.keys.userPrefix,
      this.#caps.maxLen, this.#caps.retentionMs, now, e.userId, e.eventId, e.type, e.at, e.body)
    return { id, dropped }
  }

  /** New entries for `consumer`; they sit in its pending list until acked. */
  async readNew (consumer: string, count: number): Promise<QueueEntry[]> {
    const res = await this.#redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.keys.q, '>') as Array<[string, Array<[string, Fields]>]> | null
    return (res?.[0]?.[1] ?? []).map(([id, fields]) => entryOf(id, fields))
  }

  /** Entries whose reader has been silent for `idleMs` (it died), now `consumer`'s; returns the next cursor. */
  async claimStale (consumer: string, idleMs: number, cursor: string, count: number): Promise<{ cursor: string, entries: QueueEntry[] }> {
    const [next, entries] = await this.#redis.xautoclaim(this.keys.q, GROUP, consumer, idleMs, cursor, 'COUNT', count) as [string, Array<[string, Fields | null]>]
    return { cursor: next, entries: entries.filter(([, f]) => f !== null).map(([id, f]) => entryOf(id, f as Fields)) }
  }

  /** Scheduled entries whose time has come, leased for `leaseMs`; ids whose entry is gone are forgotten. */
  async takeDue (now: number, leaseMs: number, count: number): Promise<QueueEntry[]> {
    const ids = await this.#redis.gatehouseWebhookTake(this.keys.due, now, leaseMs, count)
    const rows = await Promise.all(ids.map(async id => await this.#redis.xrange(this.keys.q, id, id) as Array<[string, Fields]>))
    const entries: QueueEntry[] = []
    for (const [i, id] of ids.entries()) {
      const found = rows[i]
      if (found.length > 0) entries.push(entryOf(id, found[0][1]))
      else await this.#redis.multi().zrem(this.keys.due, id).hdel(this.keys.wait, id).hdel(this.keys.tries, id).exec()
    }
    return entries
  }

  /** true: deliver it now; false: an older entry of the same user comes first (it is scheduled after). */
  async begin (entry: QueueEntry, now: number): Promise<boolean> {
    return await this.#redis.gatehouseWebhookBegin(...this.#userKeys(entry.userId), GROUP, entry.id, now) === 1
  }

  async done (entry: QueueEntry, now: number): Promise<void> {
    await this.#redis.gatehouseWebhookDone(...this.#userKeys(entry.userId), GROUP, entry.id, now)
  }

  /** Schedules the next attempt, or parks the delivery when its window is over; `nextAt` -1: parked, -2: dropped meanwhile. */
  async fail (entry: QueueEntry, now: number, policy: RetryPolicy, outcome: string): Promise<{ attempts: number, nextAt: number }> {
    const [attempts, nextAt] = await this.#redis.gatehouseWebhookFail(...this.#userKeys(entry.userId), this.keys.parked, GROUP, entry.id, now,
      policy.baseMs, policy.maxDelayMs, entry.at + policy.windowMs, this.#caps.parkedMax, entry.eventId, entry.type, outcome)
    return { attempts, nextAt }
  }

  async release (entry: QueueEntry, now: number): Promise<void> {
    await this.#redis.gatehouseWebhookRelease(this.keys.q, this.keys.due, GROUP, entry.id, now)
  }

  /** Drops entries older than the retention (a bound on how long any plain payload is kept); returns how many. */
  async trimExpired (now: number): Promise<number> {
    const k = this.keys
    let dropped = 0
    for (;;) {
      const n = await this.#redis.gatehouseWebhookTrim(k.q, k.wait, k.due, k.tries, GROUP, k.userPrefix, now - this.#caps.retentionMs, now, 100)
      dropped += n
      if (n < 100) return dropped
    }
  }

  /**
   * Removes the group's consumers that hold nothing and were idle for `idleMs`: every
   * process start joins under a new name, so the names of past processes would pile up.
   */
  async forgetIdleConsumers (idleMs: number): Promise<void> {
    const consumers = await this.#redis.xinfo('CONSUMERS', this.keys.q, GROUP) as unknown[][]
    for (const row of consumers) {
      const info: Record<string, unknown> = {}
      for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1]
      // XGROUP DELCONSUMER drops the consumer's pending entries: only empty ones go.
      if (Number(info.pending) === 0 && Number(info.idle) > idleMs) {
        await this.#redis.xgroup('DELCONSUMER', this.keys.q, GROUP, String(info.name))
      }
    }
  }

  async depth (): Promise<{ queued: number, parked: number }> {
    const [queued, parked] = await Promise.all([this.#redis.xlen(this.keys.q), this.#redis.xlen(this.keys.parked)])
    return { queued, parked }
  }

  /** The parked deliveries, oldest first. */
  async parked (count = 100): Promise<Array<{ eventId: string, type: string, attempts: number, outcome: string }>> {
    const rows = await this.#redis.xrange(this.keys.parked, '-', '+', 'COUNT', count) as Array<[string, Fields]>
    return rows.map(([, fields]) => {
      const f: Record<string, string> = {}
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1]
      return { eventId: f.e, type: f.t, attempts: Number(f.n), outcome: f.o }
    })
  }
}
