import t from 'tap'
import { build, PASSWORD, signedInUser } from '../helper.js'
import { EMIT_WAIT_MS } from '../../plugins/events.js'
import { globalEventsKey, userEventsKey } from '../../src/events/store.js'
import { eventsOf } from './support.js'

/*
 * Recording an event is never a reason for its request to fail or to wait: a Redis that
 * refuses the write, and a sink that never answers, leave the request's answer as it was.
 */

async function eventsCounted (ctx: Awaited<ReturnType<typeof build>>, type: string): Promise<number> {
  const text = await ctx.app.metrics.registry.getSingleMetricAsString('gatehouse_events_total')
  return Number(new RegExp(`type="${type.replace('.', '\\.')}"} (\\d+)`).exec(text)?.[1] ?? NaN)
}

t.test('Redis refusing the event writes: the sign-in still succeeds, the sinks still hear of it', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  const before = await eventsCounted(ctx, 'session.signed_in')
  // The streams cannot be written (every other command still works): XADD is denied.
  await ctx.redis.call('ACL', 'SETUSER', 'default', '-xadd')
  t.teardown(async () => { await ctx.redis.call('ACL', 'SETUSER', 'default', '+xadd') })
  const stored = await ctx.redis.xlen(userEventsKey('gh:', u.userId))
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: PASSWORD } })
  t.equal(res.statusCode, 200, 'signed in')
  t.ok(res.cookies.find(c => c.name === 'sessionId'))
  t.equal(await ctx.redis.xlen(userEventsKey('gh:', u.userId)), stored, 'nothing stored')
  t.equal(await eventsCounted(ctx, 'session.signed_in'), before + 1, 'the metrics sink counted it')
  const logout = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: `sessionId=${res.cookies.find(c => c.name === 'sessionId')!.value}` } })
  t.equal(logout.statusCode, 204)
})

t.test('a stream key of the wrong type fails that write only', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  await ctx.redis.del(userEventsKey('gh:', u.userId))
  await ctx.redis.set(userEventsKey('gh:', u.userId), 'not a stream')
  const globalBefore = await ctx.redis.xlen(globalEventsKey('gh:'))
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/change', headers: { cookie: u.cookie }, payload: { currentPassword: PASSWORD, newPassword: 'another long password 2' } })
  t.equal(res.statusCode, 200, 'the password changed')
  t.equal(await ctx.redis.xlen(globalEventsKey('gh:')), globalBefore + 1, 'the global stream took it')
  await ctx.redis.del(userEventsKey('gh:', u.userId))
  t.equal((await eventsOf(ctx, u.userId)).length, 0)
})

t.test('a sink that never answers holds a request at most EMIT_WAIT_MS', async t => {
  const ctx = await build(t)
  const u = await signedInUser(ctx)
  let release: () => void = () => {}
  const hung = new Promise<void>(resolve => { release = resolve })
  // Released before the app closes (teardowns run last-registered first), so close is not held.
  ctx.app.events.addSink(async () => await hung)
  t.teardown(() => release())
  const started = performance.now()
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: { cookie: u.cookie } })
  const took = performance.now() - started
  t.equal(res.statusCode, 204)
  t.ok(took >= EMIT_WAIT_MS - 5 && took < EMIT_WAIT_MS + 1000, `answered in ${Math.round(took)} ms`)
  t.ok(await ctx.redis.xlen(userEventsKey('gh:', u.userId)) > 0, 'the event was stored before the sink was called')
})
