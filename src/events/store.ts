/*
 * Security events in Redis Streams. Each user has a stream of their own, `events:{<userId>}`,
 * in their hash slot (deleted with the account), capped by count and by age; every event also
 * goes to one global stream, where the user is named only by an HMAC of the id: no address,
 * no plain id, no IP or user agent, so once the account and its stream are deleted nothing in
 * the global stream names the person. The two writes go to different slots and are not one
 * transaction: an event may reach one stream and not the other when Redis fails between them.
 */
import type { FastifyRequest } from 'fastify'
import type { RedisClient } from '../redis/client.js'
import { digest, hmac } from '../crypto/secrets.js'
import type { EventData, EventType, SecurityEvent } from './catalogue.js'

export interface EventLimits {
  userMaxCount: number
  userMaxAgeMs: number
  globalMaxCount: number
  globalMaxAgeMs: number
}

export const userEventsKey = (prefix: string, userId: string): string => `${prefix}events:{${userId}}`
export const globalEventsKey = (prefix: string): string => `${prefix}events:global`
/** The devices a user has signed in from (digests), for the new-device mail; same slot as the user. */
export const userDevicesKey = (prefix: string, userId: string): string => `${prefix}devices:{${userId}}`

/** How the global stream names a user: stable for one key, meaningless without it. */
export function eventSubject (key: string, userId: string): string {
  return hmac(key, `event-subject:${userId}`)
}

/** `{ ip, userAgent }` of a request, for `emit`; the user agent cut as the session list cuts it. */
export function eventOrigin (request: FastifyRequest): { ip: string, userAgent?: string } {
  const userAgent = request.headers['user-agent']
  return userAgent === undefined ? { ip: request.ip } : { ip: request.ip, userAgent: userAgent.slice(0, 256) }
}

/** A stream id `<ms>-<seq>` whose entries older than `maxAgeMs` are trimmed away. */
const minId = (maxAgeMs: number): string => `${Math.max(0, Date.now() - maxAgeMs)}-0`

/**
 * Appends the event to the user's stream and to the global one. The user's stream is small
 * and trimmed exactly (`=`), so its cap is what the configuration says; the global one is
 * large and trimmed in whole blocks (`~`), which is what keeps XADD cheap there. A user's
 * stream also expires when its newest event is older than the age cap.
 */
export async function recordEvent (redis: RedisClient, prefix: string, subjectKey: string, limits: EventLimits, event: SecurityEvent): Promise<void> {
  const data = JSON.stringify(event.data)
  // A passkey's label is the person's own words ("Ada's laptop"): it stays in their stream,
  // which goes with the account, and never reaches the global one.
  const { name: _label, ...shared } = event.data
  const sharedData = JSON.stringify(shared)
  const own = userEventsKey(prefix, event.userId)
  const fields = ['id', event.id, 'type', event.type, 'at', String(event.at), 'data', data]
  if (event.ip !== undefined) fields.push('ip', event.ip)
  if (event.userAgent !== undefined) fields.push('ua', event.userAgent)
  const global = globalEventsKey(prefix)
  await Promise.all([
    redis.multi()
      .xadd(own, 'MAXLEN', '=', limits.userMaxCount, '*', ...fields)
      .xtrim(own, 'MINID', '=', minId(limits.userMaxAgeMs))
      .pexpire(own, limits.userMaxAgeMs)
      .exec()
      .then(failed),
    redis.multi()
      .xadd(global, 'MAXLEN', '~', limits.globalMaxCount, '*', 'id', event.id, 'type', event.type, 'at', String(event.at), 'subject', eventSubject(subjectKey, event.userId), 'data', sharedData)
      .xtrim(global, 'MINID', '~', minId(limits.globalMaxAgeMs))
      .exec()
      .then(failed)
  ])
}

/** MULTI answers errors inside its result; a failed command must fail the write. */
function failed (results: Array<[Error | null, unknown]> | null): void {
  const err = results?.find(([e]) => e !== null)?.[0]
  if (err != null) throw err
}

/** One event as the activity page and the admin API show it. */
export interface StoredEvent {
  /** the event's id (webhooks' `webhook-id`) */
  id: string
  type: EventType
  at: number
  ip?: string
  userAgent?: string
  /** the global stream's HMAC of the user id */
  subject?: string
  data: EventData
}

export interface EventPage { events: StoredEvent[], nextCursor: string | null }

/** Stream entry ids: what a cursor is. */
export const CURSOR_PATTERN = '^[0-9]{1,20}-[0-9]{1,20}$'

async function readPage (redis: RedisClient, key: string, cursor: string | undefined, limit: number): Promise<EventPage> {
  // Newest first; a cursor is the last entry of the page before, excluded from this one.
  const entries = await redis.xrevrange(key, cursor === undefined ? '+' : `(${cursor}`, '-', 'COUNT', limit + 1)
  const page = entries.slice(0, limit)
  return {
    events: page.map(([, flat]) => parseEntry(flat)),
    nextCursor: entries.length > limit ? page[page.length - 1][0] : null
  }
}

function parseEntry (flat: string[]): StoredEvent {
  const f: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]] = flat[i + 1]
  const event: StoredEvent = { id: f.id, type: f.type as EventType, at: Number(f.at), data: JSON.parse(f.data ?? '{}') as EventData }
  if (f.ip !== undefined) event.ip = f.ip
  if (f.ua !== undefined) event.userAgent = f.ua
  if (f.subject !== undefined) event.subject = f.subject
  return event
}

/** A page of a user's own events, newest first. */
export async function readUserEvents (redis: RedisClient, prefix: string, userId: string, page: { cursor?: string, limit: number }): Promise<EventPage> {
  return await readPage(redis, userEventsKey(prefix, userId), page.cursor, page.limit)
}

/** A page of the global stream, newest first; users appear as `subject` (see eventSubject). */
export async function readGlobalEvents (redis: RedisClient, prefix: string, page: { cursor?: string, limit: number }): Promise<EventPage> {
  return await readPage(redis, globalEventsKey(prefix), page.cursor, page.limit)
}

/** With the account: the user's stream and the devices they signed in from (one slot, one DEL). */
export async function deleteUserEvents (redis: RedisClient, prefix: string, userId: string): Promise<void> {
  await redis.del(userEventsKey(prefix, userId), userDevicesKey(prefix, userId))
}

/**
 * Notes that `userId` signed in from `device` (a device cookie's id, or a bearer client's
 * user agent). Returns whether the device is new to the account, never true for the
 * account's first sign-in (right after registration there is nothing to warn about).
 * The set is capped so a client that never keeps cookies cannot grow it without end.
 */
export async function noteDevice (redis: RedisClient, prefix: string, userId: string, device: string): Promise<boolean> {
  const key = userDevicesKey(prefix, userId)
  // The set lives as long as a device cookie: a sign-in racing the account's deletion can
  // recreate it, and it must not then outlive the account for good.
  const results = await redis.multi().scard(key).sadd(key, digest(device)).pexpire(key, DEVICES_TTL_MS).exec()
  failed(results)
  const [[, before], [, added]] = results as [[null, number], [null, number]]
  if (before > DEVICES_KEPT) await redis.spop(key, before - DEVICES_KEPT)
  return before > 0 && added === 1
}

const DEVICES_KEPT = 200
/** As long as the device cookie lives (plugins/device-cookie.ts): 180 days. */
const DEVICES_TTL_MS = 180 * 86_400_000
