import t from 'tap'
import { decodeSession } from '../../src/sessions/record.js'
import fc from 'fast-check'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { appRoutes, build, registerUser, signedInUser, tokenFromOutbox, PASSWORD } from '../helper.js'

const NUM_RUNS = 120

// Every state-changing route (the account and admin routes too) gets NUM_RUNS bodies.
t.setTimeout(600_000)

interface FieldSchema { type?: string, minLength?: number, maxLength?: number }

/**
 * Every key and value in Redis, except what any authenticated request may move: rate-limit
 * and back-off counters, and the session's sliding expiry and last-seen time (a request
 * with a live cookie slides it before its body is validated, as every authenticated request
 * does, once a slide step has passed: the live count by expiry minute and the record's last-seen field).
 */
async function snapshot (redis: Redis): Promise<Map<string, string>> {
  // A wrong password is counted (login-throttle) and recorded as a security event (events):
  // records of the attempt, not a change the refused request made.
  const keys = (await redis.keys('*')).filter(k => !k.startsWith('gh:rl:') && !k.startsWith('gh:login-throttle:') && !k.startsWith('gh:events:') && k !== 'gh:sessions:expiring').sort()
  const out = new Map<string, string>()
  if (keys.length === 0) return out
  const values = await Promise.all(keys.map(async k => {
    if (!k.startsWith('gh:sess:')) return (await redis.dumpBuffer(k))?.toString('hex') ?? 'gone'
    const v = await redis.get(k)
    if (v === null) return 'gone'
    const { lastSeenAt: _, ...rest } = decodeSession(v, 0)
    return JSON.stringify(rest)
  }))
  keys.forEach((k, i) => out.set(k, values[i]))
  return out
}

function diff (before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = []
  for (const [k, v] of after) if (before.get(k) !== v) changed.push(before.has(k) ? `changed ${k}` : `added ${k}`)
  for (const k of before.keys()) if (!after.has(k)) changed.push(`removed ${k}`)
  return changed
}

/** The state-changing routes the app really has, with the field names of their bodies. */
async function discoverRoutes (t: Test): Promise<Array<{ method: string, url: string, fields: Record<string, FieldSchema>, required: string[] }>> {
  const found: Array<{ method: string, url: string, fields: Record<string, FieldSchema>, required: string[] }> = []
  for (const r of await appRoutes(t)) {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) continue
      const body = (r.schema as { body?: { properties?: Record<string, unknown>, required?: string[] } } | undefined)?.body
      found.push({ method, url: r.url, fields: (body?.properties ?? {}) as Record<string, FieldSchema>, required: body?.required ?? [] })
    }
  }
  return found
}

t.test('fuzzing every route\'s body never gives a 5xx nor changes stored data on a 4xx', async t => {
  const routes = await discoverRoutes(t)
  t.ok(routes.length >= 4, `routes: ${routes.map(r => `${r.method} ${r.url}`).join(', ')}`)
  const ctx = await build(t, { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', LOGIN_FREE_FAILURES: '3' })
  const signed = await signedInUser(ctx)
  const pending = await registerUser(ctx)

  const interesting = fc.oneof(
    fc.constantFrom(signed.email, pending.email, signed.email.toUpperCase(), PASSWORD, 'iloveyou', '', ' ', '000000', '__proto__', 'constructor', 'null', 'a'.repeat(129), 'A'.repeat(43)),
    fc.emailAddress(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 })
  )

  for (const route of routes) {
    // the newest link: registering the address again (as the fuzz does) replaces it
    const pendingToken = await tokenFromOutbox(ctx.outbox, pending.email, 'verify-email')
    const url = route.url.replace(/:(\w+)/g, 'fuzz-$1')
    // Mostly the route's own fields (each present or not), sometimes a stranger among them,
    // sometimes any JSON at all or not JSON.
    // A value for a field: usually something its schema could accept, sometimes anything.
    const valueFor = (name: string, f: FieldSchema): fc.Arbitrary<unknown> => {
      if (f.type !== 'string') return interesting
      const fitting = fc.string({ minLength: f.minLength ?? 0, maxLength: Math.min(f.maxLength ?? 64, 64) })
      // Names hint at what would get past validation, so the fuzz reaches the handlers too.
      const likely = /email/i.test(name)
        ? fc.oneof(fc.emailAddress(), fc.constantFrom(signed.email, pending.email, signed.email.toUpperCase()))
        : /password/i.test(name)
          ? fc.oneof(fc.string({ minLength: 8, maxLength: 40 }), fc.constantFrom(PASSWORD, 'iloveyou', 'ｃｏｒｒｅｃｔ　ｈｏｒｓｅ'))
          : /token/i.test(name)
            ? fc.constantFrom(pendingToken, pendingToken.slice(1), pendingToken + 'A')
            : /username/i.test(name) ? fc.stringMatching(/^[a-z0-9._-]{3,32}$/) : fitting
      return fc.oneof({ weight: 8, arbitrary: likely }, { weight: 1, arbitrary: fitting }, { weight: 1, arbitrary: interesting })
    }
    const names = Object.keys(route.fields)
    const model = Object.fromEntries(names.map(f => [f, valueFor(f, route.fields[f])]))
    const own: fc.Arbitrary<Record<string, unknown>> = names.length > 0
      ? fc.oneof(fc.record(model), fc.record(model, { requiredKeys: [] }), fc.record(model, { requiredKeys: route.required }))
      : fc.constant({})
    const withStranger = fc.tuple(own, fc.string({ maxLength: 12 }), interesting).map(([o, k, v]) => ({ ...o, [k]: v }))
    const body = fc.oneof(
      { weight: 8, arbitrary: own.map(o => JSON.stringify(o)) },
      { weight: 1, arbitrary: withStranger.map(o => JSON.stringify(o)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(v => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 60 }) }
    )
    const cookie = /logout/.test(url) ? fc.constant(undefined) : fc.constantFrom(undefined, signed.cookie)

    await t.test(`${route.method} ${route.url}`, async t => {
      const seen = new Map<number, number>()
      await fc.assert(fc.asyncProperty(body, cookie, async (payload, withCookie) => {
        // Mail for an earlier answer may still be on its way.
        await ctx.app.mailer.drain()
        const before = await snapshot(ctx.redis)
        const r = await ctx.app.inject({
          method: route.method as 'POST',
          url,
          payload,
          headers: { 'content-type': 'application/json', ...(withCookie === undefined ? {} : { cookie: withCookie }) }
        })
        seen.set(r.statusCode, (seen.get(r.statusCode) ?? 0) + 1)
        if (r.statusCode >= 500) throw new Error(`${r.statusCode} for ${payload}: ${r.body}`)
        if (r.statusCode >= 400) {
          if (!String(r.headers['content-type']).startsWith('application/problem+json')) throw new Error(`a ${r.statusCode} that is not a problem document`)
          await ctx.app.mailer.drain()
          const changed = diff(before, await snapshot(ctx.redis))
          if (changed.length > 0) throw new Error(`${r.statusCode} for ${payload} changed ${changed.join(', ')}`)
        }
      }), { numRuns: NUM_RUNS })
      t.comment(`statuses: ${JSON.stringify(Object.fromEntries(seen))}`)
      t.pass(`${NUM_RUNS} bodies`)
    })
  }
})
