/** Many users at once, and paging through them under churn: the admin search's tests. */
import type { Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { signedInUser, uniqueEmail } from './users.js'
import type { AppContext } from '../helper.js'
import type { User } from '../../src/accounts/users.js'

export const USERS = 10_000

/** Creates `n` users straight through the repository (no password hashing), `width` at a time. */
export async function seed (ctx: AppContext, n: number, width = 250): Promise<User[]> {
  const out: User[] = []
  for (let i = 0; i < n; i += width) {
    const batch = await Promise.all(Array.from({ length: Math.min(width, n - i) }, async (_, k) => {
      const j = i + k
      const created = await ctx.app.users.create({ email: `seed${String(j).padStart(5, '0')}@example.com`, username: j % 2 === 0 ? `seed_${j}` : null, passwordHash: 'unused', emailVerified: true })
      if (!created.ok) throw new Error(`seed ${j}: ${created.reason}`)
      return created.user
    }))
    out.push(...batch)
  }
  return out
}

/**
 * Pages through every user over HTTP while other users are added and deleted, and checks
 * that each user who existed throughout came back exactly once and nobody twice.
 */
export async function pageUnderChurn (t: Test, ctx: AppContext): Promise<void> {
  const admin = await signedInUser(ctx, uniqueEmail('admin'))
  await ctx.app.users.update(admin.userId, { role: 'admin' })
  const seeded = await seed(ctx, USERS)
  const doomed = seeded.filter((_, i) => i % 10 === 3)
  const stable = seeded.filter((_, i) => i % 10 !== 3)

  const state = { paging: true }
  const added: string[] = []
  let k = 0
  // Four writers, each adding a user at a random place in the order and deleting another.
  const churn = Promise.all(Array.from({ length: 4 }, async () => {
    while (state.paging) {
      const n = k++
      const created = await ctx.app.users.create({ email: `seed${String(Math.floor(Math.random() * USERS)).padStart(5, '0')}-${randomUUID()}@example.com`, username: `new_${n}`, passwordHash: 'unused', emailVerified: true })
      if (created.ok) added.push(created.user.id)
      if (n < doomed.length) await ctx.app.users.delete(doomed[n])
    }
  }))

  const seen = new Map<string, number>()
  let cursor: string | null = null
  let pages = 0
  do {
    const res: { statusCode: number, body: string, json: () => any } = await ctx.app.inject({ url: `/api/admin/users?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`, headers: { cookie: admin.cookie } })
    if (res.statusCode !== 200) throw new Error(`page ${pages}: ${res.statusCode} ${res.body}`)
    const body: { users: Array<{ id: string }>, nextCursor: string | null } = res.json()
    for (const u of body.users) seen.set(u.id, (seen.get(u.id) ?? 0) + 1)
    cursor = body.nextCursor
    pages++
  } while (cursor !== null)
  state.paging = false
  await churn

  t.ok(added.length > 0, `${added.length} users were added and ${Math.min(k, doomed.length)} deleted while ${pages} pages were read`)
  t.equal([...seen.values()].filter(n => n > 1).length, 0, 'no user was listed twice')
  t.equal(stable.filter(u => seen.get(u.id) !== 1).length, 0, `each of the ${stable.length} users present throughout was listed exactly once`)
  t.ok(seen.has(admin.userId))
}
