import t from 'tap'
import { ip, target } from './attack.js'
import { isMailbox, parseName } from '../../src/accounts/users.js'

/** Median of `runs` timings of `fn`, in ms. */
async function median (runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    await fn()
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

/*
 * Timings are compared as a ratio of hostile to well-formed input of the same length, never
 * against a clock: the machine may be slow, but a quadratic parser makes the hostile input
 * tens of times dearer (the old bearer regex: about 150 ms against well under 1 ms).
 */
const MAX_RATIO = 4

t.test('an Authorization header built to make a regex backtrack costs what a well-formed one costs', async t => {
  const s = await target(t)
  const n = 12_000
  const hostile = ['Bearer' + ' '.repeat(n) + 'x y', 'Bearer' + ' \t'.repeat(n / 2) + 'a\u00a0b', 'bearer ' + 'x'.repeat(n) + ' '.repeat(10) + '!']
  const wellFormed = 'Bearer ' + 'x'.repeat(n + 2)
  const me = async (authorization: string): Promise<number> => (await s.send(ip(1), 'GET', '/api/auth/me', undefined, { authorization })).status
  for (const h of [...hostile, wellFormed]) t.equal(await me(h), 401, 'refused')
  const base = await median(15, async () => await me(wellFormed))
  for (const [i, h] of hostile.entries()) {
    const cost = await median(15, async () => await me(h))
    t.ok(cost / base < MAX_RATIO, `hostile header ${i}: ${cost.toFixed(2)} ms against ${base.toFixed(2)} ms`)
  }
})

t.test('a long X-Forwarded-For chain is parsed in linear time', async t => {
  const s = await target(t)
  const n = 900
  const hostile = Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(',') + ',' + ' ,'.repeat(n)
  const wellFormed = Array.from({ length: n * 2 }, (_, i) => `10.1.${i >> 8}.${i & 255}`).join(',').slice(0, hostile.length)
  const live = async (xff: string): Promise<number> => (await s.send(xff, 'GET', '/health/live')).status
  t.equal(await live(hostile), 200)
  const base = await median(25, async () => await live(wellFormed))
  const cost = await median(25, async () => await live(hostile))
  // The hostile chain has half again as many entries as the well-formed one of the same
  // length, so a linear parser may take a little longer; a quadratic one takes tens of times.
  t.ok(cost / base < MAX_RATIO * 2, `${cost.toFixed(2)} ms against ${base.toFixed(2)} ms`)
})

t.test('the mailbox and name checks cost the same for hostile and well-formed input of the longest length accepted', async t => {
  // The request schemas cap an address at 254 characters and a name at 100; each check runs
  // 5,000 times so that the time is measurable.
  const times = async (fn: () => void): Promise<number> => await median(7, () => { for (let i = 0; i < 5000; i++) fn() })
  const cases: Array<[string, string, string]> = [
    ['dots', 'a.'.repeat(120) + '@example.com', 'ab'.repeat(120) + '@example.com'],
    ['labels', 'a@' + 'b-.'.repeat(80) + 'com', 'a@' + 'bb.'.repeat(80) + 'com'],
    ['at signs', '@'.repeat(250), 'a'.repeat(240) + '@example.com'],
    ['spaces', 'a' + ' '.repeat(240) + '@x.io', 'a'.repeat(241) + '@x.io']
  ]
  for (const [name, hostile, wellFormed] of cases) {
    const base = await times(() => isMailbox(wellFormed))
    const cost = await times(() => isMailbox(hostile))
    t.ok(cost / base < MAX_RATIO, `${name}: ${cost.toFixed(2)} ms against ${base.toFixed(2)} ms`)
  }
  const name = (v: string) => () => { try { parseName(v, 'firstName') } catch {} }
  const base = await times(name('a'.repeat(99) + '\u200b'))
  const cost = await times(name(' \u0301'.repeat(49) + 'a\u200b'))
  t.ok(cost / base < MAX_RATIO, `names: ${cost.toFixed(2)} ms against ${base.toFixed(2)} ms`)
})
