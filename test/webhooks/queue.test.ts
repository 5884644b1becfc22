import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis, sleep } from '../helper.js'
import { DeliveryQueue, GROUP, type QueueEntry } from '../../src/webhooks/queue.js'

/* The queue's scripts on their own, without Fastify: ordering, retention, the group's consumers. */

const POLICY = { baseMs: 1000, maxDelayMs: 3_600_000, windowMs: 60_000 }

async function setup (t: Test, retentionMs = 60_000) {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const queue = new DeliveryQueue(redis, 'gh:', 'ep1', { maxLen: 100, parkedMax: 10, retentionMs })
  await queue.ensureGroup()
  await queue.ensureGroup()
  return { redis, queue }
}

const entry = (userId: string, n: number, at = Date.now()): Omit<QueueEntry, 'id'> =>
  ({ userId, eventId: `${userId}-${n}`, type: 'session.signed_in', at, body: `{"n":${n}}` })

t.test('only the oldest unfinished entry of a user is handed out; finishing it schedules the next', async t => {
  const { queue, redis } = await setup(t)
  for (let n = 0; n < 3; n++) await queue.enqueue(entry('u', n), Date.now())
  await queue.enqueue(entry('v', 0), Date.now())
  const read = await queue.readNew('c1', 10)
  t.equal(read.length, 4)
  const turns = await Promise.all(read.map(async e => await queue.begin(e, Date.now())))
  t.same(turns, [true, false, false, true], 'u-0 and v-0 go; u-1 and u-2 wait')
  t.same((await queue.takeDue(Date.now(), 1000, 10)), [], 'nothing due while u-0 is under way')

  const failed = await queue.fail(read[0], Date.now(), POLICY, 'failed')
  t.equal(failed.attempts, 1)
  t.ok(failed.nextAt > Date.now(), 'u-0 retries later')
  t.same((await queue.takeDue(Date.now(), 1000, 10)), [], 'u-1 still waits behind the failed u-0')

  await queue.done(read[0], Date.now())
  const due = await queue.takeDue(Date.now(), 1000, 10)
  t.same(due.map(e => e.eventId), ['u-1'], 'u-1 is due once u-0 is done')
  t.same((await queue.takeDue(Date.now(), 1000, 10)), [], 'taken once: leased')
  await queue.done(due[0], Date.now())
  t.same((await queue.takeDue(Date.now(), 1000, 10)).map(e => e.eventId), ['u-2'])
  t.equal((await redis.xpending(queue.keys.q, GROUP) as [number])[0], 1, 'only v-0 is still pending (read, under way)')
})

t.test('entries past the retention are dropped, and their user\'s next entry gets its turn', async t => {
  const { queue, redis } = await setup(t, 2000)
  await queue.enqueue(entry('u', 0), Date.now())
  await queue.enqueue(entry('u', 1), Date.now())
  const read = await queue.readNew('c1', 10)
  t.same(await Promise.all(read.map(async e => await queue.begin(e, Date.now()))), [true, false])
  await sleep(2100)
  await queue.enqueue(entry('u', 2), Date.now())
  t.equal(await queue.trimExpired(Date.now()), 2, 'the two old entries go')
  t.equal(await redis.xlen(queue.keys.q), 1)
  t.same(await redis.lrange(queue.keys.user('u'), 0, -1), [(await redis.xrange(queue.keys.q, '-', '+'))[0][0]], 'the list holds only the live entry')
  t.equal(await redis.hlen(queue.keys.wait), 0, 'no waiting mark left')
  t.equal((await redis.xpending(queue.keys.q, GROUP) as [number])[0], 0, 'nothing pending for a dropped entry')
})

t.test('an entry whose process went silent is claimed by another consumer', async t => {
  const { queue } = await setup(t)
  await queue.enqueue(entry('u', 0), Date.now())
  const [read] = await queue.readNew('dead', 10)
  t.ok(await queue.begin(read, Date.now()))
  t.same((await queue.claimStale('alive', 100, '0-0', 10)).entries, [], 'not before the claim time')
  await sleep(150)
  const claimed = await queue.claimStale('alive', 100, '0-0', 10)
  t.same(claimed.entries.map(e => e.eventId), ['u-0'])
  t.ok(await queue.begin(claimed.entries[0], Date.now()), 'still its user\'s turn')
})

t.test('past consumers with nothing pending are forgotten; one holding entries is kept', async t => {
  const { queue, redis } = await setup(t)
  await queue.enqueue(entry('u', 0), Date.now())
  await queue.readNew('holds-one', 10)
  await queue.readNew('empty', 10)
  await sleep(60)
  await queue.forgetIdleConsumers(50)
  const names = (await redis.xinfo('CONSUMERS', queue.keys.q, GROUP) as unknown[][]).map(row => row[1])
  t.same(names, ['holds-one'])
})

t.test('a failure at or after the deadline parks the delivery', async t => {
  const { queue, redis } = await setup(t)
  const at = Date.now() - 61_000
  await queue.enqueue(entry('u', 0, at), Date.now())
  await queue.enqueue(entry('u', 1), Date.now())
  const read = await queue.readNew('c1', 10)
  await Promise.all(read.map(async e => await queue.begin(e, Date.now())))
  t.same(await queue.fail(read[0], Date.now(), POLICY, 'timeout'), { attempts: 1, nextAt: -1 })
  t.same(await queue.parked(), [{ eventId: 'u-0', type: 'session.signed_in', attempts: 1, outcome: 'timeout' }])
  t.same((await queue.takeDue(Date.now(), 1000, 10)).map(e => e.eventId), ['u-1'], 'the next one goes')
  t.equal(await redis.hlen(queue.keys.tries), 0)
})

t.test('an entry dropped by the cap while under way is neither retried nor counted again', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const queue = new DeliveryQueue(redis, 'gh:', 'ep2', { maxLen: 2, parkedMax: 10, retentionMs: 60_000 })
  await queue.ensureGroup()
  await queue.enqueue(entry('u', 0), Date.now())
  const [first] = await queue.readNew('c1', 10)
  t.ok(await queue.begin(first, Date.now()))
  t.same(await queue.enqueue(entry('v', 0), Date.now()).then(r => r.dropped), 0)
  t.same(await queue.enqueue(entry('w', 0), Date.now()).then(r => r.dropped), 1, 'u-0 goes to keep the cap')
  t.same(await queue.fail(first, Date.now(), POLICY, 'failed'), { attempts: 0, nextAt: -2 })
  t.equal(await redis.zcard(queue.keys.due), 0, 'not scheduled')
  await queue.release(first, Date.now())
  t.equal(await redis.zcard(queue.keys.due), 0, 'not even when handed back at shutdown')
  t.equal(await redis.hlen(queue.keys.tries), 0)
})
