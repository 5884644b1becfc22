import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { EVENT_CATALOGUE, type EventData, type EventInput, type EventSink, type SecurityEvent } from '../src/events/catalogue.js'
import { eventOrigin, recordEvent } from '../src/events/store.js'
import { hmac } from '../src/crypto/secrets.js'

declare module 'fastify' {
  interface FastifyInstance {
    events: {
      /** records an event; never fails the caller's request, and holds it at most EMIT_WAIT_MS */
      emit: (input: EventInput) => Promise<void>
      /** `{ ip, userAgent }` of a request, for `emit` */
      origin: (request: FastifyRequest) => { ip: string, userAgent?: string }
      /** called with every event after it is recorded */
      addSink: (sink: EventSink) => void
      /** the key of the global stream's HMAC of user ids (src/events/store.ts, eventSubject) */
      subjectKey: string
    }
  }
}

/**
 * The longest a request waits for its event to be stored and handed to the sinks. Both
 * take a millisecond or two, so normally the event is recorded before the answer leaves;
 * a stalled Redis (each command may take REDIS_COMMAND_TIMEOUT_MS) or a slow sink cannot
 * hold the answer longer than this, and the work goes on in the background.
 */
export const EMIT_WAIT_MS = 250

export default fp(async (app) => {
  const c = app.config
  const sinks: EventSink[] = []
  const pending = new Set<Promise<void>>()
  // A key of its own, derived from the session secret, as the device cookies' is.
  const subjectKey = hmac(c.sessionSecret, 'gatehouse event subjects')
  const limits = { userMaxCount: c.eventsUserMaxCount, userMaxAgeMs: c.eventsUserMaxAgeMs, globalMaxCount: c.eventsGlobalMaxCount, globalMaxAgeMs: c.eventsGlobalMaxAgeMs }
  const log = app.log.child({ module: 'events' })

  /** Only the catalogue's fields for the type: nothing else can reach a stream or a webhook. */
  function catalogued (input: EventInput): EventData {
    const allowed = EVENT_CATALOGUE[input.type].data
    const data: EventData = {}
    for (const [name, value] of Object.entries(input.data ?? {})) {
      if (allowed.includes(name)) data[name] = value
      else log.warn({ event: input.type, field: name }, 'event field not in the catalogue dropped')
    }
    return data
  }

  async function deliver (event: SecurityEvent): Promise<void> {
    try {
      await recordEvent(app.redis, c.redisKeyPrefix, subjectKey, limits, event)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message }, event: event.type }, 'security event not stored')
    }
    // The sinks have their own storage (webhooks) or none (mail, metrics): they get the event
    // even when the activity streams could not take it.
    for (const sink of sinks) {
      try { await sink(event) } catch (err) { log.error({ err, event: event.type }, 'event sink failed') }
    }
  }

  app.decorate('events', {
    emit: async (input: EventInput) => {
      const event: SecurityEvent = { ...input, id: randomUUID(), at: Date.now(), data: catalogued(input) }
      log.info({ event: event.type, userId: event.userId, data: event.data }, 'security event')
      const work = deliver(event)
      pending.add(work)
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        await Promise.race([work, new Promise<void>(resolve => { timer = setTimeout(resolve, EMIT_WAIT_MS) })])
      } finally {
        clearTimeout(timer)
        work.finally(() => pending.delete(work)).catch(() => {})
      }
    },
    origin: eventOrigin,
    addSink: (sink: EventSink) => { sinks.push(sink) },
    subjectKey
  })

  // Events still on their way are finished before Redis and the mailer close.
  app.addHook('preClose', async () => { await Promise.allSettled([...pending]) })
}, { name: 'events', dependencies: ['config', 'redis'] })
