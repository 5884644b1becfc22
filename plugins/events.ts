import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { EventInput, EventSink, SecurityEvent } from '../src/events/catalogue.js'

declare module 'fastify' {
  interface FastifyInstance {
    events: {
      /** records an event; never fails the caller's request */
      emit: (input: EventInput) => Promise<void>
      /** `{ ip, userAgent }` of a request, for `emit` */
      origin: (request: FastifyRequest) => { ip: string, userAgent?: string }
      /** called with every event after it is recorded */
      addSink: (sink: EventSink) => void
    }
  }
}

/** Until events are stored (issue 20) they are log lines, which is what issue 19 asks for meanwhile. */
export default fp(async (app) => {
  const sinks: EventSink[] = []
  app.decorate('events', {
    emit: async (input: EventInput) => {
      const event: SecurityEvent = { ...input, id: randomUUID(), at: Date.now(), data: input.data ?? {} }
      app.log.info({ event: event.type, userId: event.userId, data: event.data }, 'security event')
      for (const sink of sinks) {
        try { await sink(event) } catch (err) { app.log.error({ err, event: event.type }, 'event sink failed') }
      }
    },
    origin: (request: FastifyRequest) => {
      const userAgent = request.headers['user-agent']
      return userAgent === undefined ? { ip: request.ip } : { ip: request.ip, userAgent: userAgent.slice(0, 256) }
    },
    addSink: (sink: EventSink) => { sinks.push(sink) }
  })
}, { name: 'events', dependencies: ['config'] })
