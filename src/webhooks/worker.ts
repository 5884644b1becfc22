import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { SecurityEvent } from '../events/catalogue.js'
import type { RedisClient } from '../redis/client.js'
import { wants, type WebhookEndpoint } from './endpoints.js'
import { attempt, deliveryAgents, payloadOf, type AttemptOutcome } from './deliver.js'
import { DeliveryQueue, type QueueEntry, type RetryPolicy } from './queue.js'

/** Attempts are at most an hour apart, however many have failed. */
export const MAX_RETRY_DELAY_MS = 3_600_000
/** How often a process looks for work queued by other processes (its own events wake it at once). */
const POLL_MS = 500
/** Attempts under way at once per endpoint in one process; each ends within WEBHOOK_TIMEOUT_MS. */
const MAX_IN_FLIGHT = 64
/** An attempt under way at shutdown gets this long to finish before it is cut and handed back. */
const SHUTDOWN_GRACE_MS = 2000

/** Every outcome a delivery is counted under in metrics. */
export type DeliveryOutcome = Exclude<AttemptOutcome, 'aborted'> | 'parked' | 'dropped'

export interface WorkerOptions {
  redis: RedisClient
  prefix: string
  endpoints: WebhookEndpoint[]
  log: FastifyBaseLogger
  retry: { baseMs: number, windowMs: number }
  timeoutMs: number
  claimMs: number
  queueMax: number
  parkedMax: number
  allowPrivate: boolean
  /** counts a delivery outcome; `lagMs` (event to delivery) with `delivered` */
  observe: (outcome: DeliveryOutcome, lagMs?: number) => void
}

interface Lane {
  endpoint: WebhookEndpoint
  queue: DeliveryQueue
  groupReady: boolean
  cursor: string
  trimmedAt: number
  failing: boolean
  inFlight: number
}

/**
 * Delivers the webhook queues: the event sink (`enqueue`) adds one entry per endpoint that
 * wants the event and returns; one loop per endpoint then reads, attempts, retries and parks,
 * sharing the work with every other server process through the consumer group.
 */
export class WebhookWorker {
  readonly #o: WorkerOptions
  readonly #lanes: Lane[]
  readonly #policy: RetryPolicy
  readonly #agents: ReturnType<typeof deliveryAgents>
  /** unique per process start, so a restarted process never inherits a dead one's pending list */
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
  readonly #inFlight = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #loops: Array<Promise<void>> = []
  #stopped = false
  readonly #wakers = new Set<() => void>()

  constructor (o: WorkerOptions) {
    this.#o = o
    this.#policy = { baseMs: o.retry.baseMs, maxDelayMs: MAX_RETRY_DELAY_MS, windowMs: o.retry.windowMs }
    this.#agents = deliveryAgents(o.allowPrivate)
    this.#lanes = o.endpoints.map(endpoint => ({
      endpoint,
      // Nothing legitimately stays past the retry window (it is parked then), the claim time
      // and one more retry delay: what is older belongs to a time no process ran, and goes.
      queue: new DeliveryQueue(o.redis, o.prefix, endpoint.id, {
        maxLen: o.queueMax,
        parkedMax: o.parkedMax,
        retentionMs: o.retry.windowMs + 2 * o.claimMs + MAX_RETRY_DELAY_MS
      }),
      groupReady: false,
      cursor: '0-0',
      trimmedAt: 0,
      failing: false,
      inFlight: 0
    }))
  }

  get queues (): DeliveryQueue[] { return this.#lanes.map(l => l.queue) }

  /** The event sink: one queue entry per endpoint that wants the event. Never waits on a receiver. */
  async enqueue (event: SecurityEvent): Promise<void> {
    const lanes = this.#lanes.filter(l => wants(l.endpoint, event.type))
    if (lanes.length === 0) return
    const body = payloadOf(event)
    await Promise.all(lanes.map(async l => {
      const { dropped } = await l.queue.enqueue({ userId: event.userId, eventId: event.id, type: event.type, at: event.at, body }, Date.now())
      for (let i = 0; i < dropped; i++) this.#o.observe('dropped')
      if (dropped > 0) this.#o.log.error({ endpoint: l.endpoint.id, dropped }, 'webhook queue full: the oldest deliveries were dropped (WEBHOOK_QUEUE_MAX)')
    }))
    this.#wakeAll()
  }

  #wakeAll (): void {
    for (const wake of this.#wakers) wake()
  }

  start (): void {
    this.#loops = this.#lanes.map(async lane => await this.#run(lane))
  }

  /** Stops taking work, lets attempts under way finish (briefly), hands back the rest. */
  async stop (): Promise<void> {
    this.#stopped = true
    this.#wakeAll()
    await Promise.all(this.#loops)
    const grace = new Promise(resolve => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())
    await Promise.race([Promise.all([...this.#inFlight]), grace])
    // What is still under way is cut and handed back (released), not left to the claim time.
    this.#abort.abort()
    await Promise.all([...this.#inFlight])
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }

  async #run (lane: Lane): Promise<void> {
    while (!this.#stopped) {
      let busy = false
      try {
        busy = await this.#pass(lane)
        if (lane.failing) {
          lane.failing = false
          this.#o.log.info({ endpoint: lane.endpoint.id }, 'webhook queue reachable again')
        }
      } catch (err) {
        // The stream was deleted (or Redis replaced): the group is made again on the next pass.
        if (/NOGROUP/.test((err as Error).message)) lane.groupReady = false
        // One line when Redis goes away, not one per poll while it stays away.
        if (!lane.failing) this.#o.log.warn({ err: { message: (err as Error).message }, endpoint: lane.endpoint.id }, 'webhook queue unreachable; retrying')
        lane.failing = true
      }
      if (!busy && !this.#stopped) await this.#idle()
    }
  }

  async #idle (): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wakers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, POLL_MS)
      this.#wakers.add(done)
    })
  }

  /**
   * One round: new entries, entries of dead readers, due retries, as many as the lane has
   * room for; their attempts run on while the loop goes on, so one slow receiver call never
   * holds up other users' events. True if anything was read.
   */
  async #pass (lane: Lane): Promise<boolean> {
    const { queue } = lane
    if (!lane.groupReady) {
      await queue.ensureGroup()
      lane.groupReady = true
    }
    const now = Date.now()
    if (now - lane.trimmedAt > 60_000) {
      const dropped = await queue.trimExpired(now)
      for (let i = 0; i < dropped; i++) this.#o.observe('dropped')
      await queue.forgetIdleConsumers(this.#o.claimMs + MAX_RETRY_DELAY_MS)
      lane.trimmedAt = now
    }
    let room = MAX_IN_FLIGHT - lane.inFlight
    // Full: a finishing attempt wakes the loop.
    if (room <= 0) return false
    const fresh = await queue.readNew(this.consumer, room)
    room -= fresh.length
    const stale = room > 0 ? await queue.claimStale(this.consumer, this.#o.claimMs, lane.cursor, room) : { cursor: lane.cursor, entries: [] }
    lane.cursor = stale.cursor
    room -= stale.entries.length
    // Sent together, run in this order: the ordering checks see the entries as read.
    const read = [...fresh, ...stale.entries]
    const turns = await Promise.all(read.map(async entry => await queue.begin(entry, now)))
    const ready = read.filter((_, i) => turns[i])
    const due = room > 0 ? await queue.takeDue(now, this.#o.claimMs, room) : []
    ready.push(...due)
    if (this.#stopped) {
      for (const entry of ready) await queue.release(entry, Date.now())
      return false
    }
    for (const entry of ready) this.#launch(lane, entry)
    return read.length + due.length > 0
  }

  #launch (lane: Lane, entry: QueueEntry): void {
    lane.inFlight++
    const work: Promise<void> = this.#deliver(lane, entry).finally(() => {
      lane.inFlight--
      this.#inFlight.delete(work)
      this.#wakeAll()
    })
    this.#inFlight.add(work)
  }

  async #deliver (lane: Lane, entry: QueueEntry): Promise<void> {
    const { endpoint, queue } = lane
    const result = await attempt(endpoint, entry, { agents: this.#agents, timeoutMs: this.#o.timeoutMs, signal: this.#abort.signal })
    const now = Date.now()
    const log = { endpoint: endpoint.id, eventId: entry.eventId, type: entry.type }
    try {
      if (result.outcome === 'aborted') {
        await queue.release(entry, now)
        return
      }
      if (result.outcome === 'delivered') {
        await queue.done(entry, now)
        this.#o.observe('delivered', now - entry.at)
        return
      }
      this.#o.observe(result.outcome)
      const { attempts, nextAt } = await queue.fail(entry, now, this.#policy, result.outcome)
      if (nextAt === -2) return
      if (nextAt === -1) {
        this.#o.observe('parked')
        this.#o.log.error({ ...log, attempts, outcome: result.outcome, detail: result.detail }, 'webhook delivery parked: the retry window is over')
      } else {
        // A retry sooner than the next poll wakes the loops itself.
        if (nextAt - now < POLL_MS) setTimeout(() => this.#wakeAll(), Math.max(0, nextAt - now)).unref()
        this.#o.log.warn({ ...log, attempts, outcome: result.outcome, detail: result.detail, retryInMs: nextAt - now }, 'webhook delivery failed; will retry')
      }
    } catch (err) {
      // The entry stays pending or leased: another pass (here or elsewhere) takes it again.
      this.#o.log.warn({ ...log, err: { message: (err as Error).message } }, 'webhook outcome not recorded; the delivery will be repeated')
    }
  }
}
