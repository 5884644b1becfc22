/** Reading the security event streams, for the event tests. */
import type { TestContext } from '../helper.js'
import { readGlobalEvents, readUserEvents, type StoredEvent } from '../../src/events/store.js'
import type { EventType } from '../../src/events/catalogue.js'

/** The user's stored events, newest first. */
export async function eventsOf (ctx: TestContext, userId: string): Promise<StoredEvent[]> {
  return (await readUserEvents(ctx.redis, ctx.config.redisKeyPrefix, userId, { limit: 1000 })).events
}

/** The newest stored event of `type` for the user, or undefined. */
export async function lastEvent (ctx: TestContext, userId: string, type: EventType): Promise<StoredEvent | undefined> {
  return (await eventsOf(ctx, userId)).find(e => e.type === type)
}

/** Every entry of the global stream, newest first. */
export async function globalEvents (ctx: TestContext): Promise<StoredEvent[]> {
  return (await readGlobalEvents(ctx.redis, ctx.config.redisKeyPrefix, { limit: 100000 })).events
}

/** The user id of a registered address. */
export async function idOf (ctx: TestContext, email: string): Promise<string> {
  const user = await ctx.app.users.findByEmail(email)
  if (user === null) throw new Error(`no user ${email}`)
  return user.id
}
